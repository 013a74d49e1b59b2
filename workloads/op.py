"""The core workload types: what one kernel does, and the ordered kernels of a model step.

Every number is SI: FLOPs, bytes. Shapes are element counts. These types are the contract
between the tracer (which fills them) and the simulator (which prices them).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from hwspecs.dtypes import DType

# networkx loads slowly: only whoever builds the graph imports it.
if TYPE_CHECKING:
    import networkx as nx

T = TypeVar("T")


class OpKind(enum.Enum):
    """Kernel families; each has its own FLOP/byte formula and efficiency model."""

    GEMM = "gemm"                  # attrs: m, n, k, batch (bmm/linear/addmm)
    GROUPED_GEMM = "grouped_gemm"  # attrs: groups, m (rows over all groups), n, k, active_groups
    ATTENTION = "attention"        # attrs: batch, heads, kv_heads, q_len, kv_len, head_dim, v_head_dim, causal
    ELEMENTWISE = "elementwise"
    NORM = "norm"
    SOFTMAX = "softmax"
    EMBEDDING = "embedding"        # attrs: rows (gathered), row_bytes
    REDUCTION = "reduction"
    COPY = "copy"
    VIEW = "view"                  # no data movement once lowered
    OPTIMIZER = "optimizer"        # fused AdamW update over parameter tensors
    OTHER = "other"
    ROUTING = "routing"            # MoE top-k, permute and combine, as engines fuse them

    @property
    def on_matrix_unit(self) -> bool:
        return self in (OpKind.GEMM, OpKind.GROUPED_GEMM, OpKind.ATTENTION)


class Phase(enum.Enum):
    TRAIN = "train"      # forward + backward + optimizer step
    PREFILL = "prefill"  # B x S prompt tokens into an empty KV cache
    DECODE = "decode"    # one new token for each of B sequences with a KV cache of length L


class Pass(enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"
    OPTIMIZER = "optimizer"


class TensorRole(enum.Enum):
    """What a tensor is; precision what-ifs rescale bytes per role."""

    ACTIVATION = "activation"
    WEIGHT = "weight"
    KV_CACHE = "kv_cache"
    GRADIENT = "gradient"
    OPTIMIZER_STATE = "optimizer_state"
    INDEX = "index"      # token ids, positions, routing indices


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    dtype: DType
    role: TensorRole = TensorRole.ACTIVATION

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> float:
        return self.numel * self.dtype.bytes


@dataclass(frozen=True)
class Op:
    """One kernel (after lowering) or one aten op (raw trace).

    `read_bytes`/`write_bytes` are keyed by role, because what a kernel moves is not always
    the sum of its inputs (an embedding gathers B*S rows, not the table; a cache is read in
    place). `compute_dtype` is the precision the arithmetic runs at.
    """

    name: str
    kind: OpKind
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    flops: float
    read_bytes: Mapping[TensorRole, float]
    write_bytes: Mapping[TensorRole, float]
    compute_dtype: DType
    module: str = ""
    layer: int = -1                     # -1: outside the repeated layer stack
    pass_: Pass = Pass.FORWARD
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def total_read_bytes(self) -> float:
        return float(sum(self.read_bytes.values()))

    @property
    def total_write_bytes(self) -> float:
        return float(sum(self.write_bytes.values()))


@dataclass(frozen=True)
class ModelFacts:
    """What the model is, read from its config and parameters (not from the trace)."""

    name: str
    architecture: str
    params: int                  # all parameters
    active_params: int           # touched per token (MoE: shared + top-k experts)
    layers: int
    hidden_size: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    experts: int = 0
    experts_per_token: int = 0
    kv_bytes_per_token: float = 0.0   # all layers, K and V (or MLA latent), at the traced dtype
    embedding_params: int = 0         # input + output embeddings (counted once if tied)
    kv_lora_rank: int = 0             # MLA: width of the compressed KV latent (0: plain K/V)
    qk_rope_head_dim: int = 0         # MLA: the decoupled rotary key cached beside the latent

    @property
    def latent_kv(self) -> bool:
        """Whether the cache is an MLA latent that every attention head reads (one copy per
        token, not K and V per KV head): tensor parallelism cannot split it."""
        return self.kv_lora_rank > 0


@dataclass
class Workload:
    """The lowered kernels of one model step, in order, with their data dependencies."""

    model: ModelFacts
    phase: Phase
    batch: int
    seq: int                # tokens per sequence in this step (1 for decode)
    context: int            # KV-cache length before this step (0 for prefill and train)
    dtype: DType            # the precision everything was traced at
    ops: tuple[Op, ...]
    graph: nx.DiGraph       # nodes are op indices; an edge means a data dependency
    passes: tuple[str, ...] = ()            # lowering passes applied, in order
    saved_activation_bytes: float = 0.0     # train: forward tensors kept for backward
    kv_cache_bytes: float = 0.0             # prefill/decode: cache size after this step
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived(self, key: Hashable, build: Callable[[], T]) -> T:
        """A value computed from this workload alone (its pricing arrays, its shardings),
        built on first use and kept here: the workload owns the cache, the caller names it."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    @property
    def tokens(self) -> int:
        """Tokens processed (prefill/train) or generated (decode) by this step."""
        return self.batch * self.seq

    @property
    def flops(self) -> float:
        return float(sum(op.flops for op in self.ops))
