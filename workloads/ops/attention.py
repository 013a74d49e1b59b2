"""Attention: the fused scaled-dot-product kernels (flash / memory-efficient), forward and back.

FLOP convention (used everywhere in archsim, MFU included): the work a flash kernel executes.
Forward: QK^T and PV at 2 FLOP per multiply-accumulate, 2*B*H*q*kv*(d + dv) (that is
4*B*H*q*kv*d when d == dv), times the fraction of the q x kv score matrix the mask leaves
unmasked. Causal masks are aligned to the bottom right (the queries are the last q of the kv
positions): q == kv gives (S+1)/(2S), one decode query (q = 1) gives 1; a sliding window of w
keys caps each query at w. Backward: 2.5 x forward (dV, dP, dQ, dK and the recomputed QK^T).
Bytes: Q, K, V (and a mask, if one is passed) read once; the output and its row
log-sum-exp written once; backward reads Q, K, V, O, dO and the log-sum-exp and writes dQ, dK,
dV. The S x S matrix is never materialized.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import OpKind, Tensor, TensorRole
from workloads.ops.registry import register
from workloads.ops.work import Work, all_in, all_out
from workloads.raw import RawOp

BACKWARD_FACTOR = 2.5   # flash backward: 5 matmuls of the forward's 2 (dV, dP, dQ, dK, QK^T)


def visible_fraction(q_len: int, kv_len: int, causal: bool, window: int | None = None) -> float:
    """Fraction of the q x kv scores a causal (bottom-right aligned) or windowed mask keeps."""
    if q_len <= 0 or kv_len <= 0:
        return 0.0
    if not causal:
        return 1.0
    w = kv_len if not window or window >= kv_len else int(window)
    lo = max(1, kv_len - q_len + 1)          # keys seen by the first query: lo, ..., kv_len
    hi = kv_len
    below = min(hi, w - 1)                   # queries seeing fewer than w keys
    total = 0
    if below >= lo:
        total += (lo + below) * (below - lo + 1) // 2
    capped = hi - max(lo, w) + 1
    if capped > 0:
        total += capped * w
    return total / (q_len * kv_len)


def attention_flops(batch: int, heads: int, q_len: int, kv_len: int, head_dim: int,
                    v_head_dim: int, causal: bool, window: int | None = None,
                    backward: bool = False) -> float:
    forward = (2.0 * batch * heads * q_len * kv_len * (head_dim + v_head_dim)
               * visible_fraction(q_len, kv_len, causal, window))
    return forward * BACKWARD_FACTOR if backward else forward


def attention_attrs(batch: int, heads: int, kv_heads: int, q_len: int, kv_len: int,
                    head_dim: int, v_head_dim: int, causal: bool,
                    window: int | None) -> dict[str, Any]:
    return {"batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": q_len,
            "kv_len": kv_len, "head_dim": head_dim, "v_head_dim": v_head_dim,
            "causal": causal, "sliding_window": window}


def _is_causal(op: RawOp, bool_index: int) -> bool:
    if "causal" in op.attrs:
        return bool(op.attrs["causal"])
    kw = op.attrs.get("kwargs") or {}
    if "is_causal" in kw:
        return bool(kw["is_causal"])
    bools = [a for a in op.args if isinstance(a, bool)]
    return bool(bools[bool_index]) if bools else False


def shape_attrs(op: RawOp, q_index: int, bool_index: int) -> dict[str, Any]:
    """Attention attrs from the op's tensors, with the tracer's logical heads when given."""
    q, k, v = (op.inputs[q_index + i].shape for i in range(3))
    a: Mapping[str, Any] = op.attrs
    heads = int(a.get("heads", q[-3]))
    q_len = int(a.get("q_len", q[-2]))
    return attention_attrs(batch=int(q[0]), heads=heads, kv_heads=int(a.get("kv_heads", k[-3])),
                           q_len=q_len, kv_len=int(k[-2]), head_dim=int(q[-1]),
                           v_head_dim=int(v[-1]), causal=_is_causal(op, bool_index),
                           window=a.get("sliding_window"))


def flops_of(attrs: Mapping[str, Any], backward: bool) -> float:
    return attention_flops(attrs["batch"], attrs["heads"], attrs["q_len"], attrs["kv_len"],
                           attrs["head_dim"], attrs["v_head_dim"], attrs["causal"],
                           attrs["sliding_window"], backward)


def _forward(q_index: int, bool_index: int):
    def fn(op: RawOp) -> Work:
        attrs = shape_attrs(op, q_index, bool_index)
        return Work(flops_of(attrs, False), all_in(op), all_out(op), op.inputs[q_index].dtype,
                    attrs)
    return fn


def _backward(q_index: int, bool_index: int):
    def fn(op: RawOp) -> Work:
        attrs = shape_attrs(op, q_index, bool_index)
        return Work(flops_of(attrs, True), all_in(op), all_out(op), op.inputs[q_index].dtype,
                    attrs)
    return fn


# Inputs: (q, k, v[, mask]); backward: (dO, q, k, v, o, lse, ...). `bool_index`: which of the
# op's positional bool arguments is is_causal when the tracer did not say.
register("aten._scaled_dot_product_flash_attention_for_cpu",
         "aten._scaled_dot_product_flash_attention", kind=OpKind.ATTENTION)(_forward(0, 0))
register("aten._scaled_dot_product_efficient_attention",
         kind=OpKind.ATTENTION)(_forward(0, -1))
register("aten._scaled_dot_product_flash_attention_for_cpu_backward",
         "aten._scaled_dot_product_flash_attention_backward",
         kind=OpKind.ATTENTION)(_backward(1, 0))
register("aten._scaled_dot_product_efficient_attention_backward",
         kind=OpKind.ATTENTION)(_backward(1, -1))


def flash_tensors(attrs: Mapping[str, Any], dtype: DType, kv_role: TensorRole,
                  backward: bool) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """What a flash kernel with these attrs reads and writes (GQA: K/V at kv_heads).

    Forward reads Q, K, V and writes O and the row log-sum-exp (fp32); backward reads Q, K, V,
    O, dO and the log-sum-exp and writes dQ, dK, dV.
    """
    b, h, hk = attrs["batch"], attrs["heads"], attrs["kv_heads"]
    q, kv, d, dv = attrs["q_len"], attrs["kv_len"], attrs["head_dim"], attrs["v_head_dim"]
    tq = Tensor((b, h, q, d), dtype)
    tk = Tensor((b, hk, kv, d), dtype, kv_role)
    tv = Tensor((b, hk, kv, dv), dtype, kv_role)
    to = Tensor((b, h, q, dv), dtype)
    lse = Tensor((b, h, q), DType.FP32)
    if not backward:
        return (tq, tk, tv), (to, lse)
    return (tq, tk, tv, to, to, lse), (tq, Tensor(tk.shape, dtype), Tensor(tv.shape, dtype))
