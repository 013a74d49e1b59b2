"""Replaying a traced workload: each lowered kernel as the benchmark case that times it.

`case_for(op)` maps one lowered `Op` to a `Case` (same shape, same dtype) or gives the reason
it cannot be replayed; `plan_replay(workload)` groups a workload's kernels into distinct cases
with how many kernels each stands for, so every shape is timed once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from validation.measure.bench_shapes import Case
from workloads.op import Op, OpKind, Pass, Workload

REPLAY_DTYPES = ("fp32", "bf16", "fp16")   # what bench_kernels allocates


@dataclass(frozen=True)
class ReplayPlan:
    counts: dict[Case, int]          # distinct case -> kernels of the workload it stands for
    unreplayed: dict[str, int]       # "kind: reason" -> kernels left out


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _largest(tensors) -> tuple[int, ...]:
    return max((t.shape for t in tensors), key=_numel, default=(1,))


def _rows_cols(op: Op) -> tuple[int, int]:
    shape = _largest(op.inputs) or (1,)
    cols = shape[-1] if shape else 1
    return max(1, _numel(shape) // max(cols, 1)), max(cols, 1)


def _gemm(op: Op, dtype: str) -> Case:
    a = op.attrs
    batch = int(a.get("batch", 1))
    return Case("gemm", "mm" if batch == 1 else "bmm", dtype, m=int(a["m"]), n=int(a["n"]),
                k=int(a["k"]), batch=batch)


def _grouped(op: Op, dtype: str) -> Case:
    # NB: rows are spread evenly over the groups; the weight-gradient form (3-D output) is
    # timed as the forward form of the same M, N, K (same FLOPs).
    a = op.attrs
    return Case("grouped_gemm", "grouped_mm", dtype, m=int(a["m"]), n=int(a["n"]),
                k=int(a["k"]), groups=int(a["groups"]))


def _attention(op: Op, dtype: str) -> Case | str:
    a = op.attrs
    if a["head_dim"] != a.get("v_head_dim", a["head_dim"]):
        return "value head size differs from the key head size"
    if a.get("sliding_window") and a["sliding_window"] < a["kv_len"]:
        return "sliding window"
    if a["heads"] % a["kv_heads"]:
        return "query heads not a multiple of KV heads"
    q, kv = int(a["q_len"]), int(a["kv_len"])
    if a["causal"] and q not in (1, kv):
        return "causal with 1 < q_len != kv_len"
    return Case("attention", "sdpa_prefill" if q > 1 else "sdpa_decode", dtype,
                batch=int(a["batch"]), heads=int(a["heads"]), kv_heads=int(a["kv_heads"]),
                q_len=q, kv_len=kv, head_dim=int(a["head_dim"]), causal=bool(a["causal"]))


def _norm(op: Op, dtype: str) -> Case:
    # NB: a layer norm names itself; every other norm chain (pow+mean+rsqrt+mul, as eager
    # RMSNorm modules run) is replayed as F.rms_norm, and an add fused in front is left out.
    kind = "layer_norm" if "layer_norm" in op.name else "rms_norm"
    rows, cols = _rows_cols(op)
    return Case("norm", kind, dtype, rows=rows, cols=cols)


def _softmax(op: Op, dtype: str) -> Case:
    rows, cols = _rows_cols(op)
    return Case("softmax", "softmax", dtype, rows=rows, cols=cols)


def _elementwise(op: Op, dtype: str) -> Case:
    # NB: a fused chain is replayed as one binary pointwise kernel of its largest output.
    return Case("elementwise", "add", dtype, numel=max(1, _numel(_largest(op.outputs))))


def _embedding(op: Op, dtype: str) -> Case:
    a = op.attrs
    table = op.inputs[0]
    return Case("embedding", "embedding", table.dtype.value, rows=int(a["rows"]),
                cols=int(round(a["row_bytes"] / table.dtype.bytes)),
                vocab=int(a.get("table_rows", table.shape[0])))


def _copy(op: Op, dtype: str) -> Case:
    return Case("copy", "copy", dtype, numel=max(1, _numel(_largest(op.inputs))))


_MAPPERS = {
    OpKind.GEMM: _gemm, OpKind.GROUPED_GEMM: _grouped, OpKind.ATTENTION: _attention,
    OpKind.NORM: _norm, OpKind.SOFTMAX: _softmax, OpKind.ELEMENTWISE: _elementwise,
    OpKind.EMBEDDING: _embedding, OpKind.COPY: _copy,
}
# Kernel kinds whose backward is the same kind of kernel (a GEMM is a GEMM in either pass).
_SAME_IN_BACKWARD = (OpKind.GEMM, OpKind.GROUPED_GEMM, OpKind.ELEMENTWISE, OpKind.COPY)


def case_for(op: Op) -> Case | str:
    """The benchmark case that replays `op`, or why there is none."""
    mapper = _MAPPERS.get(op.kind)
    if mapper is None:
        return "no benchmark for this kernel kind"
    if op.pass_ is not Pass.FORWARD and op.kind not in _SAME_IN_BACKWARD:
        return f"{op.pass_.value} pass"
    dtype = op.compute_dtype.value
    if dtype not in REPLAY_DTYPES:
        return f"dtype {dtype}"
    return mapper(op, dtype)


def plan_replay(workload: Workload) -> ReplayPlan:
    """The distinct cases of a workload's kernels (views skipped) and what is left out."""
    counts: Counter[Case] = Counter()
    left: Counter[str] = Counter()
    for op in workload.ops:
        if op.kind is OpKind.VIEW:
            continue
        case = case_for(op)
        if isinstance(case, Case):
            counts[case] += 1
        else:
            left[f"{op.kind.value}: {case}"] += 1
    return ReplayPlan(dict(counts), dict(left))
