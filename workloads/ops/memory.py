"""Data movement: copies, concatenation, padding, gathers and scatters.

Copies and concatenations are pointwise (one element in, one out) and can fuse into their
producer. A gather reads the rows it picks, not its whole source; an in-place scatter writes
the rows it touches, not its whole destination.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Fuse, Work, all_in, all_out, numel, widest_dtype
from workloads.raw import RawOp

_COPIES = ("clone", "contiguous", "copy", "cat", "concat", "concatenate", "stack", "hstack",
           "vstack", "constant_pad_nd", "pad", "slice_backward", "select_backward",
           "diagonal_backward", "as_strided_scatter", "slice_scatter", "select_scatter",
           "repeat", "expand_copy", "roll", "flip", "lift_fresh_copy", "alias_copy",
           "view_copy", "permute_copy", "t_copy", "transpose_copy", "unsqueeze_copy",
           "squeeze_copy", "_unsafe_view_copy", "tile", "repeat_interleave")
_GATHERS = ("index", "_unsafe_index", "index_select", "gather", "take", "masked_select",
            "nonzero", "embedding_bag")
_SCATTERS = ("scatter", "scatter_add", "scatter_reduce", "index_put", "_index_put_impl",
             "index_add", "index_copy", "index_fill", "masked_scatter", "put")


@register(*(f"aten.{n}" for n in _COPIES), kind=OpKind.COPY, fuse=Fuse.POINTWISE)
def copy(op: RawOp) -> Work:
    return Work(0.0, all_in(op), all_out(op), widest_dtype(op))


@register("aten.copy_", kind=OpKind.COPY, fuse=Fuse.POINTWISE)
def copy_into(op: RawOp) -> Work:
    """`dst.copy_(src)`: reads src, writes dst; dst's old contents are not read."""
    reads = all_in(op)
    return Work(0.0, (0.0,) + reads[1:], all_out(op), widest_dtype(op))


@register(*(f"aten.{n}" for n in _GATHERS), kind=OpKind.COPY)
def gather(op: RawOp) -> Work:
    reads = list(all_in(op))
    written = sum(all_out(op))
    if reads:
        reads[0] = min(reads[0], written)   # only the picked rows of the source
    return Work(0.0, tuple(reads), all_out(op), widest_dtype(op))


@register(*(f"aten.{n}" for n in _SCATTERS), kind=OpKind.COPY)
def scatter(op: RawOp) -> Work:
    """Out of place: a copy of self with rows replaced (self read, output written whole)."""
    n = numel(op.outputs[0].shape) if op.outputs else 0
    return Work(float(n) if "add" in op.target or "reduce" in op.target else 0.0,
                all_in(op), all_out(op), widest_dtype(op))


@register(*(f"aten.{n}_" for n in _SCATTERS), kind=OpKind.COPY)
def scatter_into(op: RawOp) -> Work:
    """In place: reads the values and indices, writes only the rows they touch."""
    # NB: the bytes touched are taken as the bytes of values and indices read, at most self.
    reads = all_in(op)
    values = sum(reads[1:])
    outs = tuple(min(b, values) for b in all_out(op))
    return Work(0.0, (0.0,) + reads[1:], outs, widest_dtype(op))
