"""What each kernel of a workload is to a parallel plan, read once from the workload's ops.

For every op: how tensor parallelism splits it (whole, along one GEMM dimension, or not at all),
whether sequence parallelism splits it instead, which GEMM dimension counts tokens, whether it
is an expert kernel, which pipeline slot it sits in, and the collectives tied to it. The plan
itself is applied later, by scaling array columns (`simulator.parallel.sharding`), never by re-tracing.

Tensor parallelism follows the model's own `base_model_tp_plan` from its transformers config
where it names a module (colwise / rowwise), and these rules otherwise (Megatron-LM's layout):
- weight GEMMs inside a layer are column-parallel, except the ones that write back into the
  residual stream (o_proj, out_proj, c_proj, down_proj, fc2, dense_4h_to_h, w2, wo,
  output.dense, attention.dense), which are row-parallel; a router (n == experts) is replicated;
- attention is split by heads; other ops under the parent module of a column-parallel GEMM
  (rotary, activation, the gated product, unfused attention's batched GEMMs and softmax) are
  split with it;
- the embedding, the vocabulary projection and the loss are vocab-parallel;
- everything else (norms, residual adds, dropout) is replicated, or split over the sequence
  when sequence parallelism is on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from workloads.op import Op, OpKind, Pass, TensorRole, Workload

REPLICATED, WHOLE, ON_DIM = 0, 1, 2        # tp_mode values (int8 columns)
NO_DIM, DIM_M, DIM_N, DIM_K = 0, 1, 2, 3   # GEMM dimension codes

_ROWWISE = re.compile(r"(^|\.)(o_proj|out_proj|c_proj|down_proj|fc2|fc_out|dense_4h_to_h|w2|wo|"
                      r"output\.dense|\w*attention\.dense)$")
# MLA's low-rank down-projections are replicated on every TP rank (vLLM's ReplicatedLinear for
# q_a_proj and kv_a_proj_with_mqa in deepseek_v2.py; SGLang and TensorRT-LLM alike): the
# latent they make is what every head reads.
_REPLICATED = re.compile(r"(^|\.)(q_a_proj|kv_a_proj_with_mqa)$")
_COL_NAMES = ("colwise", "packed_colwise", "colwise_gather_output", "local_colwise")
_ROW_NAMES = ("rowwise", "rowwise_split_input", "local_rowwise", "packed_rowwise")


@dataclass(frozen=True)
class OpRoles:
    """Per-op facts a plan needs (numpy columns aligned with `to_arrays(workload)`)."""

    tp_mode: np.ndarray      # REPLICATED, WHOLE or ON_DIM
    sp: np.ndarray           # bool: replicated and token-proportional (SP splits it by tp)
    kv_cap: np.ndarray       # most TP ways the op's weights/KV split (KV heads), inf else
    tok_dim: np.ndarray      # GEMM dim that counts tokens (NO_DIM where not a plain GEMM)
    tp_dim: np.ndarray       # GEMM dim tensor parallelism splits (NO_DIM where none)
    expert: np.ndarray       # bool: routed-expert kernel or parameter
    head_batched: np.ndarray  # bool: a per-head batched GEMM (MLA's absorbed projections)
    expert_split_k: np.ndarray  # bool: an expert GEMM whose k is the intermediate dimension
    embedding: np.ndarray    # bool: reads rows of a table per token
    fixed: np.ndarray        # bool: parameter-sized work (gradient accumulation), no tokens
    fixed_write: np.ndarray  # bool: token work that writes a parameter-sized result
    optimizer: np.ndarray    # bool
    slot: np.ndarray         # 0 before the layer stack, l+1 for layer l, layers+1 after it
    tp_fwd_bytes: np.ndarray  # bytes of the TP all-reduce after this op in forward
    tp_bwd_bytes: np.ndarray  # ... in backward
    ep_bytes: np.ndarray      # MoE dispatch send buffer (one all-to-all) at this op
    cp_kv_bytes: np.ndarray   # K and V of the whole sequence at this attention op
    layers: int
    tokens: int               # tokens the workload was traced at (batch x seq)
    kv_heads: int
    kv_replicated: bool = False   # an MLA latent cache: every TP rank keeps all of it
    hidden_size: int = 0

    @cached_property
    def tp_fwd_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct sizes, how many calls of each) of the forward TP all-reduces."""
        return _distinct_sizes(self.tp_fwd_bytes)

    @cached_property
    def ep_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct sizes, how many calls of each) of the MoE dispatches."""
        return _distinct_sizes(self.ep_bytes)


def _distinct_sizes(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sizes, counts = np.unique(column[column > 0], return_counts=True)
    return sizes, counts.astype(float)


def roles_of(workload: Workload, tp_plan: Mapping[str, str] | None = None) -> OpRoles:
    """Classified once per TP plan, kept by the workload."""
    key = ("roles", tuple(sorted((tp_plan or {}).items())))
    return workload.derived(key, lambda: _classify(workload, tp_plan or {}))


class _Columns:
    """The per-op arrays `_classify` fills."""

    def __init__(self, n: int) -> None:
        self.tp_mode = np.zeros(n, np.int8)
        self.tok_dim = np.zeros(n, np.int8)
        self.tp_dim = np.zeros(n, np.int8)
        self.kv_cap = np.full(n, np.inf)
        self.flags = {k: np.zeros(n, bool) for k in ("expert", "embedding", "fixed",
                                                       "fixed_write", "optimizer",
                                                       "head_batched", "expert_split_k")}
        self.bytes = {k: np.zeros(n) for k in ("tp_fwd", "tp_bwd", "ep", "cp")}


def _classify(w: Workload, tp_plan: Mapping[str, str]) -> OpRoles:
    ops, facts = w.ops, w.model
    c = _Columns(len(ops))
    modes = _module_modes(ops, facts, tp_plan)
    features = _gemm_features(ops)
    regions = tuple(sorted({m.rpartition(".")[0] for m, mode in modes.items()
                            if mode == "colwise" and m.rpartition(".")[0]}))
    kv_dim = facts.kv_heads * facts.head_dim if facts.kv_heads < facts.heads else -1
    moe_layers: set[int] = set()
    expert_gemms: dict[tuple, int] = {}
    for i, op in enumerate(ops):
        mode = modes.get(op.module, "")
        _flags(c, i, op)
        if features.get(op.module, (0, 0))[0] == kv_dim and mode == "colwise":
            c.kv_cap[i] = facts.kv_heads
        if c.flags["optimizer"][i]:
            split = mode in ("colwise", "rowwise", "vocab") or c.flags["expert"][i]
            c.tp_mode[i] = WHOLE if split else REPLICATED
            continue
        if op.kind is OpKind.GEMM:
            c.tok_dim[i] = _token_dim(op, w.batch * w.seq)
        if op.kind is OpKind.ATTENTION:
            c.tp_mode[i] = WHOLE
            c.kv_cap[i] = facts.kv_heads or np.inf
            if op.pass_ is Pass.FORWARD:
                c.bytes["cp"][i] = _kv_bytes(op, w)
        elif c.flags["expert"][i]:
            _expert(c, i, op, facts, moe_layers)
            if op.kind.on_matrix_unit:
                key = (op.layer, op.pass_)
                nth = expert_gemms[key] = expert_gemms.get(key, -1) + 1
                c.flags["expert_split_k"][i] = _intermediate_is_k(op, facts.hidden_size, nth)
        elif op.attrs.get("heads_split"):
            c.tp_mode[i] = WHOLE              # split by heads: the batch of the GEMM
            c.flags["head_batched"][i] = True
        elif mode in ("colwise", "rowwise") and op.kind is OpKind.GEMM:
            _linear(c, i, op, mode, features[op.module])
        elif _vocab_parallel(op, facts):
            c.tp_mode[i] = WHOLE
            if op.kind is OpKind.EMBEDDING and op.pass_ is Pass.FORWARD:
                c.bytes["tp_fwd"][i] = op.write_bytes.get(TensorRole.ACTIVATION, 0.0)
        elif op.layer >= 0 and mode != "replicated" and _in_region(op.module, regions):
            c.tp_mode[i] = WHOLE   # rotary, activations, unfused attention math: by heads
    f = c.flags
    sp = (c.tp_mode == REPLICATED) & ~f["optimizer"] & ~f["fixed"]
    return OpRoles(tp_mode=c.tp_mode, sp=sp, kv_cap=c.kv_cap, tok_dim=c.tok_dim,
                   tp_dim=c.tp_dim, slot=_slots(ops, facts.layers),
                   tp_fwd_bytes=c.bytes["tp_fwd"], tp_bwd_bytes=c.bytes["tp_bwd"],
                   ep_bytes=c.bytes["ep"], cp_kv_bytes=c.bytes["cp"], layers=facts.layers,
                   tokens=w.batch * w.seq, kv_heads=facts.kv_heads,
                   kv_replicated=facts.latent_kv, hidden_size=facts.hidden_size, **f)


def _flags(c: _Columns, i: int, op: Op) -> None:
    f = c.flags
    f["expert"][i] = _is_expert(op)
    f["optimizer"][i] = op.pass_ is Pass.OPTIMIZER
    f["embedding"][i] = op.kind is OpKind.EMBEDDING
    grad = op.write_bytes.get(TensorRole.GRADIENT, 0.0)
    f["fixed"][i] = not op.kind.on_matrix_unit and grad > 0 \
        and grad >= op.write_bytes.get(TensorRole.ACTIVATION, 0.0)
    f["fixed_write"][i] = f["embedding"][i] and op.pass_ is Pass.BACKWARD


def _expert(c: _Columns, i: int, op: Op, facts, moe_layers: set[int]) -> None:
    c.tp_mode[i] = WHOLE
    if op.kind.on_matrix_unit and op.pass_ is Pass.FORWARD and op.layer not in moe_layers:
        moe_layers.add(op.layer)
        c.bytes["ep"][i] = op.read_bytes.get(TensorRole.ACTIVATION, 0.0)
        # The block's output (tokens x hidden) is all-reduced over TP, as a dense MLP's
        # row-parallel output is.
        out = c.bytes["ep"][i] / max(facts.experts_per_token, 1)
        c.bytes["tp_fwd"][i] = c.bytes["tp_bwd"][i] = out


def _intermediate_is_k(op: Op, hidden: int, nth: int) -> bool:
    """Whether an expert GEMM's intermediate (expert-TP) dimension is k: a down-projection
    (n is the hidden size); an up-projection has k = hidden. Where both or neither are the
    hidden size, the order in the block says (up first, then down)."""
    n, k = int(op.attrs.get("n", 0)), int(op.attrs.get("k", 0))
    if (n == hidden) != (k == hidden):
        return n == hidden
    return nth % 2 == 1


def _linear(c: _Columns, i: int, op: Op, mode: str, features: tuple[int, int]) -> None:
    c.tp_mode[i], c.tp_dim[i] = _gemm_split(op, mode, features, c.tok_dim[i])
    if mode == "rowwise" and op.pass_ is Pass.FORWARD and _reads_weight(op):
        out = op.write_bytes.get(TensorRole.ACTIVATION, 0.0)
        c.bytes["tp_fwd"][i] = c.bytes["tp_bwd"][i] = out
    if mode == "colwise" and op.layer < 0 and op.pass_ is Pass.FORWARD:
        # The vocab projection: its input gradient is all-reduced in backward.
        c.bytes["tp_bwd"][i] = op.read_bytes.get(TensorRole.ACTIVATION, 0.0)


def _vocab_parallel(op: Op, facts) -> bool:
    """A word-embedding lookup (its table has vocab rows), or the loss over the vocabulary."""
    if op.kind is OpKind.EMBEDDING:
        return any(t.shape[:1] == (facts.vocab_size,) for t in op.inputs + op.outputs)
    return op.layer < 0 and _touches_vocab(op, facts)


def _is_expert(op: Op) -> bool:
    if op.kind is OpKind.GROUPED_GEMM:
        return True
    return ".experts" in op.module and "shared_expert" not in op.module


def _reads_weight(op: Op) -> bool:
    return op.read_bytes.get(TensorRole.WEIGHT, 0.0) > 0


def _writes_gradient(op: Op) -> bool:
    return op.write_bytes.get(TensorRole.GRADIENT, 0.0) > 0 and not _reads_weight(op)


def _pattern(key: str) -> re.Pattern:
    """A transformers TP-plan key ('layers.*.mlp.up_proj') as a regex on module paths."""
    body = r"\.".join(r"\d+" if part == "*" else re.escape(part) for part in key.split("."))
    return re.compile(rf"(^|\.){body}$")


def _hf_mode(value: str) -> str:
    if value in _COL_NAMES:
        return "colwise"
    if value in _ROW_NAMES:
        return "rowwise"
    if "embedding" in value:
        return "vocab"
    return "replicated"


def _module_modes(ops: tuple[Op, ...], facts, tp_plan: Mapping[str, str]) -> dict[str, str]:
    """colwise / rowwise / vocab / replicated for each module that runs a weight GEMM."""
    patterns = [(_pattern(k), _hf_mode(v)) for k, v in tp_plan.items()]
    modes: dict[str, str] = {}
    for op in ops:
        if op.pass_ is not Pass.FORWARD or op.module in modes:
            continue
        if op.kind is OpKind.EMBEDDING:
            modes[op.module] = "vocab"
            continue
        if op.kind is not OpKind.GEMM or not _reads_weight(op):
            continue
        named = next((mode for pat, mode in patterns if pat.search(op.module)), None)
        modes[op.module] = named or _rule_mode(op, facts)
    return modes


def _rule_mode(op: Op, facts) -> str:
    n = int(op.attrs.get("n", 0))
    if op.layer < 0:
        return "colwise" if n == facts.vocab_size else "replicated"
    if facts.experts and n == facts.experts:
        return "replicated"       # the MoE router
    if _REPLICATED.search(op.module):
        return "replicated"
    return "rowwise" if _ROWWISE.search(op.module) else "colwise"


def _gemm_features(ops: tuple[Op, ...]) -> dict[str, tuple[int, int]]:
    """(out_features, in_features) of each module, from its forward weight GEMM (n, k)."""
    out: dict[str, tuple[int, int]] = {}
    for op in ops:
        if op.kind is OpKind.GEMM and op.pass_ is Pass.FORWARD and _reads_weight(op) \
                and op.module not in out:
            out[op.module] = (int(op.attrs.get("n", 0)), int(op.attrs.get("k", 0)))
    return out


def _dims(op: Op) -> dict[int, int]:
    a = op.attrs
    return {DIM_M: int(a.get("m", 0)), DIM_N: int(a.get("n", 0)), DIM_K: int(a.get("k", 0))}


def _token_dim(op: Op, tokens: int) -> int:
    """The GEMM dim that counts tokens: m for forward and input-gradient GEMMs, k for weight
    gradients (which reduce over tokens); another dim only where the usual one does not match."""
    dims = _dims(op)
    usual = DIM_K if _writes_gradient(op) else DIM_M
    if dims[usual] == tokens:
        return usual
    return next((d for d, v in dims.items() if v == tokens), NO_DIM)


def _gemm_split(op: Op, mode: str, features: tuple[int, int], tok: int) -> tuple[int, int]:
    """(tp_mode, dim) for a GEMM of a column- or row-parallel linear layer."""
    out_f, in_f = features
    value = out_f if mode == "colwise" else in_f
    if _writes_gradient(op):
        prefer = (DIM_M, DIM_N)
    elif op.pass_ is Pass.FORWARD:
        prefer = (DIM_N,) if mode == "colwise" else (DIM_K,)
    else:
        prefer = (DIM_K,) if mode == "colwise" else (DIM_N,)
    dims = _dims(op)
    order = list(prefer) + [d for d in (DIM_M, DIM_N, DIM_K) if d not in prefer]
    for d in order:
        if d != tok and dims[d] == value and value > 0:
            return ON_DIM, d
    # NB: a GEMM whose shape does not show the split feature is split as a whole.
    return WHOLE, NO_DIM


def _touches_vocab(op: Op, facts) -> bool:
    v = facts.vocab_size
    return any(v in t.shape for t in op.inputs + op.outputs)


def _in_region(module: str, regions: tuple[str, ...]) -> bool:
    # NB: dropout after a row-parallel GEMM inside the same block counts as split too.
    return any(module == r or module.startswith(r + ".") for r in regions)


def _kv_bytes(op: Op, w: Workload) -> float:
    """K and V of the whole sequence an attention op reads (what ring attention passes)."""
    a = op.attrs
    kv_heads = int(a.get("kv_heads", a.get("heads", 0)))
    head_dim = int(a.get("head_dim", 0))
    v_dim = int(a.get("v_head_dim", head_dim) or head_dim)
    return float(a.get("batch", 1)) * float(a.get("kv_len", 0)) * kv_heads * (head_dim + v_dim) \
        * w.dtype.bytes


def _slots(ops: tuple[Op, ...], layers: int) -> np.ndarray:
    """Pipeline slot of every op: layer ops by layer; the rest before or after the stack."""
    slot = np.zeros(len(ops), np.int64)
    after = layers + 1
    first_fwd = next((i for i, o in enumerate(ops)
                      if o.pass_ is Pass.FORWARD and o.layer >= 0), len(ops))
    last_bwd = max((i for i, o in enumerate(ops) if o.pass_ is Pass.BACKWARD and o.layer >= 0),
                   default=-1)
    pre_modules: set[str] = set()
    for i, op in enumerate(ops):
        if op.layer >= 0:
            slot[i] = min(op.layer, layers - 1) + 1
        elif op.pass_ is Pass.FORWARD:
            pre = i < first_fwd
            slot[i] = 0 if pre else after
            if pre:
                pre_modules.add(op.module)
        elif op.pass_ is Pass.BACKWARD:
            slot[i] = 0 if (last_bwd >= 0 and i > last_bwd) else after
        else:
            slot[i] = 0 if (op.module in pre_modules or first_fwd == len(ops)) else after
    if first_fwd == len(ops):
        slot[:] = 0  # no layer stack: everything is one slot
    return slot
