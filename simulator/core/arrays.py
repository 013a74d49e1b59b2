"""A workload as a structure of numpy arrays, one row per op, built once and reused.

Every evaluation (devices, what-ifs, sweeps) broadcasts over these arrays instead of looping
over `Op` objects in Python. The masks pricing asks for on every call (matrix-unit kernels,
attention, views, the dtypes present) are computed once per arrays object.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hwspecs.dtypes import DType
from workloads.op import OpKind, Pass, TensorRole, Workload

KINDS = tuple(OpKind)
KIND_CODE = {k: i for i, k in enumerate(KINDS)}
DTYPES = tuple(DType)
DTYPE_CODE = {d: i for i, d in enumerate(DTYPES)}
PASSES = tuple(Pass)
PASS_CODE = {p: i for i, p in enumerate(PASSES)}
_MATRIX_CODES = np.array([KIND_CODE[k] for k in KINDS if k.on_matrix_unit])
_OTHER_ROLES = (TensorRole.GRADIENT, TensorRole.OPTIMIZER_STATE, TensorRole.INDEX)
# Kernel classes (a fitted profile's overheads and intervals are per class).
CLASSES = ("gemm", "attention_prefill", "attention_decode",
           *(k.value for k in KINDS if k not in (OpKind.GEMM, OpKind.GROUPED_GEMM,
                                                  OpKind.ATTENTION)))
_CLASS_OF_KIND = np.array([CLASSES.index("gemm") if k in (OpKind.GEMM, OpKind.GROUPED_GEMM)
                           else CLASSES.index("attention_prefill") if k is OpKind.ATTENTION
                           else CLASSES.index(k.value) for k in KINDS])
# The columns a kernel's price depends on (`distinct`), and every per-op column.
PRICE_COLUMNS = ("kind", "flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
                 "kv_read_bytes", "kv_write_bytes", "other_bytes", "compute_dtype", "m", "n",
                 "k", "batch", "weight_elements", "group")
COLUMNS = (*PRICE_COLUMNS, "layer", "pass_")


@dataclass(frozen=True)
class OpArrays:
    """Per-op columns. Bytes are split by role so precision what-ifs can rescale them."""

    kind: np.ndarray            # int, index into KINDS
    flops: np.ndarray
    weight_read_bytes: np.ndarray
    act_read_bytes: np.ndarray
    act_write_bytes: np.ndarray
    kv_read_bytes: np.ndarray
    kv_write_bytes: np.ndarray
    other_bytes: np.ndarray     # gradients, optimizer states, indices: read + write
    compute_dtype: np.ndarray   # int, index into DTYPES
    m: np.ndarray               # GEMM rows (attention: q_len); 0 where it does not apply
    n: np.ndarray               # GEMM columns (attention: kv_len)
    k: np.ndarray               # GEMM reduction (attention: head_dim)
    batch: np.ndarray           # GEMM batch or groups (attention: batch x heads)
    weight_elements: np.ndarray  # weight elements a matrix op reads (for dequantization)
    layer: np.ndarray
    pass_: np.ndarray           # int, index into PASSES
    names: tuple[str, ...]
    # Attention: query heads per KV head (GQA's group; 1 elsewhere and where not given).
    group: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.group is None:
            object.__setattr__(self, "group", np.ones(len(self.kind)))

    def __len__(self) -> int:
        return len(self.kind)

    @cached_property
    def on_matrix(self) -> np.ndarray:
        return np.isin(self.kind, _MATRIX_CODES)

    @cached_property
    def is_attention(self) -> np.ndarray:
        return self.kind == KIND_CODE[OpKind.ATTENTION]

    @cached_property
    def is_view(self) -> np.ndarray:
        return self.kind == KIND_CODE[OpKind.VIEW]

    @cached_property
    def class_code(self) -> np.ndarray:
        """Each row's index into CLASSES, the classes fitted profiles name: the kind, with
        grouped GEMMs under gemm and attention split into prefill and decode (one query)."""
        code = _CLASS_OF_KIND[self.kind]
        decode = self.is_attention & (self.m <= 1)
        return np.where(decode, CLASSES.index("attention_decode"), code)

    @cached_property
    def classes_present(self) -> tuple[int, ...]:
        return tuple(int(c) for c in np.unique(self.class_code))

    @property
    def kernel_class(self) -> np.ndarray:
        return np.asarray(CLASSES, dtype=object)[self.class_code]

    @cached_property
    def visible_keys(self) -> np.ndarray:
        """Attention rows: the keys each query sees through its mask, from the FLOPs the
        tracer counted (4 x batch x heads x queries x keys x head_dim forward, 2.5 x that
        backward); kv_len elsewhere."""
        from workloads.ops.attention import BACKWARD_FACTOR

        per_key = 4.0 * np.maximum(self.batch, 1) * np.maximum(self.m, 1) \
            * np.maximum(self.k, 1)
        per_key = per_key * np.where(self.pass_ == PASS_CODE[Pass.BACKWARD], BACKWARD_FACTOR,
                                     1.0)
        keys = np.minimum(self.flops / per_key, self.n)
        return np.where(self.is_attention & (self.flops > 0), keys, self.n)

    @cached_property
    def has_views(self) -> bool:
        return bool(self.is_view.any())

    @cached_property
    def dtype_codes(self) -> tuple[int, ...]:
        """The compute dtypes present, as codes (usually one or two)."""
        return tuple(int(c) for c in np.unique(self.compute_dtype))

    @cached_property
    def dtype_index(self) -> np.ndarray:
        """Each row's position in `dtype_codes`."""
        return np.searchsorted(np.array(self.dtype_codes), self.compute_dtype)

    @cached_property
    def matrix_dtype_codes(self) -> frozenset[int]:
        """The compute dtypes of matrix-unit kernels."""
        return frozenset(int(c) for c in np.unique(self.compute_dtype[self.on_matrix]))

    @cached_property
    def total_bytes(self) -> np.ndarray:
        return (self.weight_read_bytes + self.act_read_bytes + self.act_write_bytes
                + self.kv_read_bytes + self.kv_write_bytes + self.other_bytes)

    @classmethod
    def concat(cls, parts: list[OpArrays]) -> OpArrays:
        """The rows of `parts`, one after the other."""
        return cls(names=tuple(n for p in parts for n in p.names),
                   **{c: np.concatenate([getattr(p, c) for p in parts]) for c in COLUMNS})

    def take(self, rows: np.ndarray) -> OpArrays:
        """The rows `rows` (an index array), in that order."""
        return OpArrays(names=tuple(self.names[i] for i in rows),
                        **{c: getattr(self, c)[rows] for c in COLUMNS})


def _shape_attrs(op) -> tuple[int, int, int, int]:
    a = op.attrs
    if op.kind is OpKind.ATTENTION:
        return (int(a.get("q_len", 0)), int(a.get("kv_len", 0)), int(a.get("head_dim", 0)),
                int(a.get("batch", 1)) * int(a.get("heads", 1)))
    if op.kind is OpKind.GROUPED_GEMM:
        groups = int(a.get("active_groups", a.get("groups", 1))) or 1
        # NB: rows are spread evenly over the active groups for tile/wave quantization.
        return (max(1, int(a.get("m", 0)) // groups), int(a.get("n", 0)), int(a.get("k", 0)),
                groups)
    return int(a.get("m", 0)), int(a.get("n", 0)), int(a.get("k", 0)), int(a.get("batch", 1))


def query_group(heads, kv_heads):
    """GQA's group: query heads per KV head, at least 1 (1 where the KV heads are not given,
    as 0). Scalars or arrays."""
    kv = np.asarray(kv_heads, dtype=float)
    return np.maximum(np.where(kv > 0, heads / np.where(kv > 0, kv, 1.0), 1.0), 1.0)


def _group(op) -> float:
    if op.kind is not OpKind.ATTENTION:
        return 1.0
    return float(query_group(int(op.attrs.get("heads", 1)), int(op.attrs.get("kv_heads", 0))))


def to_arrays(workload: Workload) -> OpArrays:
    """The workload's arrays, built once and kept by the workload."""
    return workload.derived("arrays", lambda: _build(workload))


def _build(workload: Workload) -> OpArrays:
    ops = workload.ops
    n = len(ops)
    cols = {name: np.zeros(n) for name in (
        "flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes", "kv_read_bytes",
        "kv_write_bytes", "other_bytes", "m", "n", "k", "batch", "weight_elements", "group")}
    kind = np.zeros(n, dtype=np.int64)
    dtype = np.zeros(n, dtype=np.int64)
    layer = np.zeros(n, dtype=np.int64)
    pass_ = np.zeros(n, dtype=np.int64)
    for i, op in enumerate(ops):
        r, w = op.read_bytes, op.write_bytes
        kind[i] = KIND_CODE[op.kind]
        dtype[i] = DTYPE_CODE[op.compute_dtype]
        layer[i] = op.layer
        pass_[i] = PASS_CODE[op.pass_]
        cols["flops"][i] = op.flops
        cols["weight_read_bytes"][i] = r.get(TensorRole.WEIGHT, 0.0)
        cols["act_read_bytes"][i] = r.get(TensorRole.ACTIVATION, 0.0)
        # NB: weights written by the optimizer step count as activation writes.
        cols["act_write_bytes"][i] = w.get(TensorRole.ACTIVATION, 0.0) + w.get(
            TensorRole.WEIGHT, 0.0)
        cols["kv_read_bytes"][i] = r.get(TensorRole.KV_CACHE, 0.0)
        cols["kv_write_bytes"][i] = w.get(TensorRole.KV_CACHE, 0.0)
        cols["other_bytes"][i] = sum(r.get(x, 0.0) + w.get(x, 0.0) for x in _OTHER_ROLES)
        cols["m"][i], cols["n"][i], cols["k"][i], cols["batch"][i] = _shape_attrs(op)
        cols["group"][i] = _group(op)
        if op.kind.on_matrix_unit:
            cols["weight_elements"][i] = sum(t.numel for t in op.inputs
                                             if t.role is TensorRole.WEIGHT)
    return OpArrays(kind=kind, compute_dtype=dtype, layer=layer, pass_=pass_,
                    names=tuple(op.name for op in ops), **cols)


def bincount_rows(ids: np.ndarray, values: np.ndarray, length: int) -> np.ndarray:
    """`np.bincount(ids, weights=row, minlength=length)` for every row of (V, k) `values`.

    One bincount over the rows laid end to end: each bin adds its values in the same order as
    the 1-D call, so every row equals it to the last bit."""
    rows = values.shape[0]
    flat = (ids[None, :] + length * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, weights=np.ascontiguousarray(values).ravel(),
                       minlength=rows * length).reshape(rows, length)
