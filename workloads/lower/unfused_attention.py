"""Attention without a flash kernel: what `flash_attention` off costs.

A fused SDPA op becomes the math it replaces, with the q x kv scores in memory:
forward QK^T (GEMM), softmax, PV (GEMM); backward dV = P^T dO, dP = dO V^T, the softmax
backward, dQ = dS K and dK = dS^T Q. Every GEMM runs over the whole score matrix (a causal
mask saves no work), and the probabilities P are kept from forward for backward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import Op, OpKind, Pass, Tensor, TensorRole
from workloads.ops.norm import SOFTMAX, SOFTMAX_BACKWARD
from workloads.ops.work import Work, nbytes
from workloads.raw import RawOp

# NB: GQA K/V are read once per KV head (no repeat_kv copy), as SDPA's math path does not.


def scores_tensor(attrs: Mapping[str, Any], dtype: DType) -> Tensor:
    return Tensor((attrs["batch"], attrs["heads"], attrs["q_len"], attrs["kv_len"]), dtype)


def _op(raw: RawOp, name: str, kind: OpKind, flops: float, inputs: tuple[Tensor, ...],
        outputs: tuple[Tensor, ...], dtype: DType, attrs: dict[str, Any]) -> Op:
    reads: dict[TensorRole, float] = {}
    for t in inputs:
        reads[t.role] = reads.get(t.role, 0.0) + nbytes(t)
    writes: dict[TensorRole, float] = {}
    for t in outputs:
        writes[t.role] = writes.get(t.role, 0.0) + nbytes(t)
    return Op(name, kind, inputs, outputs, flops, reads, writes, dtype, raw.module, raw.layer,
              raw.pass_, attrs)


def _gemm(raw: RawOp, name: str, a: Tensor, b: Tensor, out: Tensor, m: int, n: int, k: int,
          bh: int, dtype: DType) -> Op:
    return _op(raw, name, OpKind.GEMM, 2.0 * bh * m * n * k, (a, b), (out,), dtype,
               {"m": m, "n": n, "k": k, "batch": bh})


def unfused_ops(raw: RawOp, work: Work) -> list[Op]:
    """The math kernels one fused SDPA op (forward or backward) stands for."""
    a = work.attrs
    dt = work.compute_dtype
    bh = a["batch"] * a["heads"]
    q_len, kv_len, d, dv = a["q_len"], a["kv_len"], a["head_dim"], a["v_head_dim"]
    s = scores_tensor(a, dt)
    elems = bh * q_len * kv_len
    if raw.pass_ is not Pass.BACKWARD:
        q, k, v = raw.inputs[0], raw.inputs[1], raw.inputs[2]
        masks = raw.inputs[3:4]
        return [
            _gemm(raw, "attn_scores", q, k, s, q_len, kv_len, d, bh, dt),
            _op(raw, "attn_softmax", OpKind.SOFTMAX, float((SOFTMAX + len(masks)) * elems),
                (s, *masks), (s,), dt, {}),
            _gemm(raw, "attn_values", s, v, raw.outputs[0], q_len, dv, kv_len, bh, dt),
        ]
    d_out, q, k, v = raw.inputs[0], raw.inputs[1], raw.inputs[2], raw.inputs[3]
    dq, dk, dv_ = raw.outputs[0], raw.outputs[1], raw.outputs[2]
    return [
        _gemm(raw, "attn_grad_values", s, d_out, dv_, kv_len, dv, q_len, bh, dt),
        _gemm(raw, "attn_grad_probs", d_out, v, s, q_len, kv_len, dv, bh, dt),
        _op(raw, "attn_softmax_backward", OpKind.SOFTMAX, float(SOFTMAX_BACKWARD * elems),
            (s, s), (s,), dt, {}),
        _gemm(raw, "attn_grad_queries", s, k, dq, q_len, d, kv_len, bh, dt),
        _gemm(raw, "attn_grad_keys", s, q, dk, kv_len, d, q_len, bh, dt),
    ]
