"""Pointwise ops: arithmetic, activations and their backward, casts, fills and random numbers.

Inputs are read once (a broadcast operand at its own size) and the output written once.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Fuse, Work, all_in, all_out, numel, widest_dtype
from workloads.raw import RawOp

_UNARY = ("abs", "neg", "exp", "exp2", "expm1", "log", "log1p", "log2", "sqrt", "rsqrt",
          "sin", "cos", "tan", "tanh", "sigmoid", "silu", "gelu", "relu", "erf", "erfinv",
          "reciprocal", "sign", "sgn", "floor", "ceil", "round", "trunc", "frac",
          "logical_not", "bitwise_not", "square", "softplus", "hardtanh", "leaky_relu", "elu",
          "mish", "hardswish", "hardsigmoid", "clamp", "clamp_min", "clamp_max", "nan_to_num",
          "isnan", "isinf", "isfinite", "pow", "xlogy")
_BINARY = ("add", "sub", "rsub", "mul", "div", "remainder", "fmod", "floor_divide", "maximum",
           "minimum", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
           "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "atan2", "where",
           "masked_fill", "lerp", "addcmul", "addcdiv", "tril", "triu", "copysign", "hypot")
_BACKWARD = ("silu_backward", "gelu_backward", "tanh_backward", "sigmoid_backward",
             "threshold_backward", "hardtanh_backward", "leaky_relu_backward", "elu_backward",
             "softplus_backward", "mish_backward", "hardswish_backward",
             "native_dropout_backward")
_POINTWISE = _UNARY + _BINARY + _BACKWARD


def _packets(names: tuple[str, ...], inplace: bool = True) -> list[str]:
    out = [f"aten.{n}" for n in names]
    if inplace:
        out += [f"aten.{n}_" for n in names]
    return out


@register(*_packets(_POINTWISE), kind=OpKind.ELEMENTWISE, fuse=Fuse.POINTWISE)
def pointwise(op: RawOp) -> Work:
    # NB: one FLOP per output element, transcendental functions included.
    n = numel(op.outputs[0].shape) if op.outputs else 0
    return Work(float(n), all_in(op), all_out(op), widest_dtype(op))


@register("aten.native_dropout", kind=OpKind.ELEMENTWISE, fuse=Fuse.POINTWISE)
def dropout(op: RawOp) -> Work:
    """(out, mask): draw, compare and scale per element."""
    n = numel(op.inputs[0].shape)
    return Work(float(2 * n), all_in(op), all_out(op), widest_dtype(op))


@register("aten._to_copy", "aten.to", "aten._to_dtype", kind=OpKind.COPY, fuse=Fuse.POINTWISE)
def cast(op: RawOp) -> Work:
    """A dtype or layout change: read once, write once, no arithmetic."""
    return Work(0.0, all_in(op), all_out(op), widest_dtype(op))


_FILLS = ("zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "new_zeros",
          "new_ones", "new_full", "arange", "scalar_tensor", "linspace", "fill", "zero",
          "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm",
          "bernoulli", "uniform", "normal", "random", "exponential")


@register(*_packets(_FILLS), kind=OpKind.ELEMENTWISE, fuse=Fuse.POINTWISE)
def fill(op: RawOp) -> Work:
    """Writes its output; reads no input data (a `_like` input gives only the shape)."""
    # NB: drawing a random number counts as one FLOP per element, like a fill.
    n = numel(op.outputs[0].shape) if op.outputs else 0
    reads = all_in(op)
    if op.target.split(".")[1] not in ("bernoulli", "normal") and reads:
        # in place or `_like`: the first input is overwritten or only gives the shape; any
        # further tensor (a probability, a fill value) is read
        reads = (0.0,) + reads[1:]
    return Work(float(n), reads, all_out(op), widest_dtype(op))


# Binary overloads of reductions' names: `max(a, b)` is pointwise, `max(a)` is not.
register("aten.max.other", "aten.min.other", "aten.clamp.Tensor", kind=OpKind.ELEMENTWISE,
         fuse=Fuse.POINTWISE, family="elementwise")(pointwise)
