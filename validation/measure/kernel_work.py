"""FLOPs and bytes of one benchmark case, counted with the simulator's conventions.

GEMM: 2·M·N·K per batch. Attention: 4·B·H·q·kv·d times the visible fraction of the scores,
(S+1)/(2S) when causal with q == kv (`workloads.ops.attention`, shared with the tracer). Bytes: every input read once plus every output written once, as a fused
kernel moves them. Where torch runs a case as an eager chain of several kernels, the bench
records the chain's counted traffic instead (`validation.measure.eager_chain`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.dtypes import DType
from validation.measure.bench_shapes import Case
from workloads.ops.attention import attention_flops
from workloads.ops.norm import LAYER_NORM, RMS_NORM, SOFTMAX

# FLOP per element, the workloads' per-op counts: one per pointwise op (silu and exp
# included), the textbook formula for a norm or softmax.
FLOPS_PER_ELEMENT = {"rms_norm": RMS_NORM, "layer_norm": LAYER_NORM, "softmax": SOFTMAX,
                     "add": 1, "silu_mul": 2}
# Eager torch launches per call (the simulator prices the fused chain as one kernel).
LAUNCHES = {"silu_mul": 2}
INDEX_BYTES = DType.INT64.bytes   # token ids of an embedding gather
OFFSET_BYTES = DType.INT32.bytes  # group offsets of a grouped GEMM


@dataclass(frozen=True)
class Work:
    flops: float
    read_bytes: float
    write_bytes: float
    launches: int


def work_of(case: Case) -> Work:
    """The FLOPs, bytes read and written, and kernel launches of one call of `case`."""
    size = DType.parse(case.dtype).bytes
    count = _COUNTERS.get(case.op)
    if count is None:
        raise ValueError(f"no FLOP/byte formula for benchmark op {case.op!r}")
    flops, read, write = count(case, size)
    return Work(float(flops), float(read), float(write), LAUNCHES.get(case.op, 1))


def _mm(c: Case, size: float) -> tuple[float, float, float]:
    b = c.batch or 1
    return 2.0 * b * c.m * c.n * c.k, b * (c.m * c.k + c.k * c.n) * size, b * c.m * c.n * size


def _grouped_mm(c: Case, size: float) -> tuple[float, float, float]:
    # NB: every group's weights are read, as when each group gets at least one row.
    read = (c.m * c.k + c.groups * c.k * c.n) * size + c.groups * OFFSET_BYTES
    return 2.0 * c.m * c.n * c.k, read, c.m * c.n * size


def _sdpa(c: Case, size: float) -> tuple[float, float, float]:
    q_elems = c.batch * c.heads * c.q_len * c.head_dim
    kv_elems = 2 * c.batch * c.kv_heads * c.kv_len * c.head_dim
    flops = attention_flops(c.batch, c.heads, c.q_len, c.kv_len, c.head_dim, c.head_dim,
                            bool(c.causal))
    return flops, (q_elems + kv_elems) * size, q_elems * size


def _rowwise(c: Case, size: float) -> tuple[float, float, float]:
    elems = c.rows * c.cols
    params = {"rms_norm": 1, "layer_norm": 2}.get(c.op, 0) * c.cols   # weight, bias
    return FLOPS_PER_ELEMENT[c.op] * elems, (elems + params) * size, elems * size


def _pointwise(c: Case, size: float) -> tuple[float, float, float]:
    inputs = 2   # add: a + b; silu_mul: silu(gate) * up
    return FLOPS_PER_ELEMENT[c.op] * c.numel, inputs * c.numel * size, c.numel * size


def _embedding(c: Case, size: float) -> tuple[float, float, float]:
    # NB: the gathered rows, not the table, are read (as the simulator's lowering does).
    gathered = c.rows * c.cols * size
    return 0.0, gathered + c.rows * INDEX_BYTES, gathered


def _copy(c: Case, size: float) -> tuple[float, float, float]:
    return 0.0, c.numel * size, c.numel * size


_COUNTERS = {
    "mm": _mm, "bmm": _mm, "grouped_mm": _grouped_mm,
    "sdpa_prefill": _sdpa, "sdpa_decode": _sdpa,
    "rms_norm": _rowwise, "layer_norm": _rowwise, "softmax": _rowwise,
    "add": _pointwise, "silu_mul": _pointwise,
    "embedding": _embedding, "copy": _copy,
}
