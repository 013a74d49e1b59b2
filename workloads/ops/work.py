"""What one aten op costs: the record every per-op formula returns.

Bytes are per tensor, aligned with the op's inputs and outputs, so that lowering passes can
fuse ops by tensor identity (a tensor made and used inside one fused kernel is never read or
written in memory) and rewrite what one operand costs (an embedding table read row by row).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from hwspecs.dtypes import DType
from workloads.op import OpKind, Tensor
from workloads.raw import RawOp

NO_ATTRS: Mapping[str, Any] = MappingProxyType({})


class Fuse(enum.IntEnum):
    """How an op may join a fused kernel."""

    NONE = 0        # a kernel of its own (GEMM, attention, embedding, optimizer)
    POINTWISE = 1   # one output element from the same input elements: joins a chain or epilogue
    ROWWISE = 2     # reduces or mixes along a row (mean, softmax, norm): joins a chain, no epilogue


class Work(NamedTuple):
    """FLOPs and bytes of one op; `in_bytes`/`out_bytes` align with its inputs/outputs.

    `mutated_bytes` aligns with the inputs too: bytes written into an input in place (an
    optimizer updating parameters); empty when nothing is mutated. A named tuple, not a
    dataclass: a 70B-model trace makes thousands per lowering, and this is the cheap immutable.
    """

    flops: float
    in_bytes: tuple[float, ...]
    out_bytes: tuple[float, ...]
    compute_dtype: DType
    attrs: Mapping[str, Any] = NO_ATTRS
    mutated_bytes: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Formula:
    """A registry entry: the kernel family, how it fuses, and the cost function."""

    kind: OpKind
    fuse: Fuse
    fn: Any  # Callable[[RawOp], Work]
    family: str = field(default="")


def numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def nbytes(t: Tensor) -> float:
    return numel(t.shape) * t.dtype.bytes


def all_in(op: RawOp) -> tuple[float, ...]:
    """Every input read once, whole."""
    return tuple([_bytes(t) for t in op.inputs])


def all_out(op: RawOp) -> tuple[float, ...]:
    """Every output written once, whole."""
    return tuple([_bytes(t) for t in op.outputs])


def _bytes(t: Tensor) -> float:
    n = 1
    for d in t.shape:
        n *= d
    return n * _DTYPE_BYTES[t.dtype]


def widest_dtype(op: RawOp) -> DType:
    """The precision pointwise math runs at: the widest floating input or output."""
    best, rank = None, -1
    for t in op.outputs + op.inputs:
        r = _FLOAT_ORDER.get(t.dtype, -1)
        if r > rank:
            best, rank = t.dtype, r
    if best is not None:
        return best
    return op.outputs[0].dtype if op.outputs else (op.inputs[0].dtype if op.inputs
                                                   else DType.FP32)


_FLOAT_ORDER = {DType.FP4: 0, DType.FP6: 1, DType.FP8: 2, DType.FP16: 3, DType.BF16: 3,
                DType.TF32: 4, DType.FP32: 5, DType.FP64: 6}
_DTYPE_BYTES = {d: d.bytes for d in DType}
