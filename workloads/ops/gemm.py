"""Matrix multiplies: dense GEMMs and the grouped GEMM of mixture-of-experts layers.

FLOPs are 2 per multiply-accumulate: 2*M*N*K per matrix, times the batch. Operands are read
once and the product written once; attrs give the shape the efficiency model needs
(GEMM: m, n, k, batch; grouped: groups, m = rows over all groups, n, k, active_groups).
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Work, all_in, all_out, numel
from workloads.raw import RawOp


def _gemm(op: RawOp, a: int, m: int, n: int, k: int, batch: int = 1) -> Work:
    """`a`: the index of the left operand, whose precision the multiply runs at."""
    # NB: a bias added in the epilogue (addmm, linear) is not counted: FlopCounterMode's
    # convention, and M*N next to 2*M*N*K.
    return Work(2.0 * m * n * k * batch, all_in(op), all_out(op), op.inputs[a].dtype,
                {"m": m, "n": n, "k": k, "batch": batch})


@register("aten.mm", kind=OpKind.GEMM)
def mm(op: RawOp) -> Work:
    (m, k), (_, n) = op.inputs[0].shape, op.inputs[1].shape
    return _gemm(op, 0, m, n, k)


@register("aten.addmm", kind=OpKind.GEMM)
def addmm(op: RawOp) -> Work:
    (m, k), (_, n) = op.inputs[1].shape, op.inputs[2].shape
    return _gemm(op, 1, m, n, k)


@register("aten.bmm", kind=OpKind.GEMM)
def bmm(op: RawOp) -> Work:
    (b, m, k), (_, _, n) = op.inputs[0].shape, op.inputs[1].shape
    return _gemm(op, 0, m, n, k, b)


@register("aten.baddbmm", kind=OpKind.GEMM)
def baddbmm(op: RawOp) -> Work:
    (b, m, k), (_, _, n) = op.inputs[1].shape, op.inputs[2].shape
    return _gemm(op, 1, m, n, k, b)


@register("aten.linear", kind=OpKind.GEMM)
def linear(op: RawOp) -> Work:
    x, w = op.inputs[0].shape, op.inputs[1].shape
    k = x[-1]
    n = w[0] if len(w) == 2 else 1
    return _gemm(op, 0, numel(x) // k if k else 0, n, k)


@register("aten._grouped_mm", kind=OpKind.GROUPED_GEMM)
def grouped_mm(op: RawOp) -> Work:
    """`_grouped_mm(a, b, offs)`: the ragged dimension is a's rows (2D x 3D, the expert
    forward), the shared K (2D x 2D, the expert weight gradient, one output per group), or
    none (3D x 3D, a plain batch)."""
    a, b = op.inputs[0].shape, op.inputs[1].shape
    out = op.outputs[0].shape
    if len(a) == 2 and len(b) == 3:
        groups, (m, k), n = b[0], a, b[2]
        rows = m
    elif len(a) == 2 and len(b) == 2:
        groups, (m, k), n = out[0], a, b[1]
        rows = k
    elif len(a) == 3 and len(b) == 3:
        groups, m, k, n = a[0], a[0] * a[1], a[2], b[2]
        rows = m
    else:  # 3D x 2D: ragged N, b is (K, N over all groups)
        groups, m, k, n = a[0], a[1], a[2], b[1]
        rows = n
    return Work(2.0 * m * n * k, all_in(op), all_out(op), op.inputs[0].dtype,
                {"groups": groups, "m": m, "n": n, "k": k, "active_groups": float(groups),
                 "routed_rows": rows})
