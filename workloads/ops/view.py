"""Ops that move no data: views (aliases of their first input), allocations, bookkeeping.

Views keep the identity of the tensor they alias (lowering maps a view's output to its base),
so a kernel that reads a view reads its base. Allocations (`empty`) make a tensor without
writing it. All cost nothing; the `views` lowering pass drops them from the kernel list.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Work, widest_dtype
from workloads.raw import RawOp

VIEW_PACKETS = tuple(f"aten.{n}" for n in (
    "view", "_unsafe_view", "reshape", "_reshape_alias", "t", "transpose", "permute", "expand",
    "expand_as", "unsqueeze", "squeeze", "slice", "select", "alias", "detach", "as_strided",
    "split", "split_with_sizes", "chunk", "unbind", "narrow", "diagonal", "unfold", "view_as",
    "view_as_real", "view_as_complex", "lift_fresh", "movedim", "swapaxes", "unflatten",
    "flatten", "_conj", "_neg_view", "real", "imag", "numpy_T", "mT", "_indices", "_values",
    "t_", "transpose_", "unsqueeze_", "squeeze_", "as_strided_", "detach_"))

ALLOC_PACKETS = tuple(f"aten.{n}" for n in (
    "empty", "empty_like", "new_empty", "new_empty_strided", "empty_strided", "resize_",
    "set_", "_local_scalar_dense", "sym_size", "sym_stride", "sym_numel", "_assert_async",
    "_assert_scalar", "record_stream", "_resize_output_")) + (
    "profiler._record_function_enter_new", "profiler._record_function_exit",
    "profiler._record_function_enter")


def _nothing(op: RawOp) -> Work:
    return Work(0.0, tuple(0.0 for _ in op.inputs), tuple(0.0 for _ in op.outputs),
                widest_dtype(op))


register(*VIEW_PACKETS, kind=OpKind.VIEW)(_nothing)
register(*ALLOC_PACKETS, kind=OpKind.VIEW, family="alloc")(_nothing)

ALIASING = frozenset(VIEW_PACKETS)


def is_alias(target: str) -> bool:
    """True when the op's outputs are views of its first input."""
    return target.rpartition(".")[0] in ALIASING or target in ALIASING
