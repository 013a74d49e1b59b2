"""Optimizer steps: fused AdamW / Adam over parameter tensors, and `_foreach_*` updates.

A fused AdamW step reads each parameter, its gradient and both moments, and writes the
parameter and the moments back in place.
"""

from __future__ import annotations

from workloads.op import OpKind, TensorRole
from workloads.ops.registry import register
from workloads.ops.work import Work, all_in, numel, widest_dtype
from workloads.raw import RawOp

# FLOP per parameter of one AdamW update: decay p *= 1 - lr*wd (1); m = b1*m + (1-b1)*g (3);
# v = b2*v + (1-b2)*g*g (4); denom = sqrt(v)/sqrt(bc2) + eps (3); p -= lr/bc1 * m/denom (3).
ADAMW_FLOPS_PER_PARAM = 14

# Tensor lists a `_foreach_` op takes, by packet, when not 1 (the first list is updated).
_FOREACH_LISTS = {"addcmul": 3, "addcdiv": 3, "lerp": 2}


@register("aten._fused_adamw_", "aten._fused_adam_", kind=OpKind.OPTIMIZER)
def fused_adamw(op: RawOp) -> Work:
    """Inputs: params, grads, exp_avgs, exp_avg_sqs, [max_exp_avg_sqs], state_steps."""
    reads = all_in(op)
    params = [t for t in op.inputs if t.role is TensorRole.WEIGHT]
    if not params:  # roles unknown: the lists come in the documented order
        params = list(op.inputs[: len(op.inputs) // 5])
    n = sum(numel(t.shape) for t in params)
    mutated = tuple(0.0 if t.role is TensorRole.GRADIENT else b
                    for t, b in zip(op.inputs, reads, strict=True))
    return Work(float(ADAMW_FLOPS_PER_PARAM * n), reads, (), widest_dtype(op),
                {"params": n}, mutated)


@register("aten._foreach_*", kind=OpKind.OPTIMIZER)
def foreach(op: RawOp) -> Work:
    """One pointwise update per tensor of the first list (in place for `_foreach_x_`)."""
    name = op.target.split(".")[1]
    base = name.removeprefix("_foreach_").rstrip("_")
    lists = 2 if op.target.endswith(".List") else _FOREACH_LISTS.get(base, 1)
    first = op.inputs[: max(1, len(op.inputs) // lists)] if op.inputs else ()
    n = sum(numel(t.shape) for t in first)
    reads = all_in(op)
    outs = tuple(numel(t.shape) * t.dtype.bytes for t in op.outputs)
    mutated = ()
    if name.endswith("_"):
        mutated = tuple(b if i < len(first) else 0.0 for i, b in enumerate(reads))
    return Work(float(n), reads, outs, widest_dtype(op), {}, mutated)
