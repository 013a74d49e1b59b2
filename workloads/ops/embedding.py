"""Embedding lookups and their backward.

As traced, `embedding(table, ids)` reads the whole table (what its tensor arguments are); the
`embedding_gather` lowering pass makes it read only the B*S rows it gathers. attrs: rows
(gathered), row_bytes.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Work, all_in, all_out, numel
from workloads.raw import RawOp


@register("aten.embedding", kind=OpKind.EMBEDDING)
def embedding(op: RawOp) -> Work:
    table, ids = op.inputs[0], op.inputs[1]
    dim = table.shape[-1] if table.shape else 1
    return Work(0.0, all_in(op), all_out(op), table.dtype,
                {"rows": numel(ids.shape), "row_bytes": dim * table.dtype.bytes,
                 "table_rows": table.shape[0] if table.shape else 0})


@register("aten.embedding_dense_backward", kind=OpKind.EMBEDDING)
def embedding_backward(op: RawOp) -> Work:
    """Scatter-adds B*S gradient rows into a zeroed table-sized gradient (written whole)."""
    grad, ids = op.inputs[0], op.inputs[1]
    out = op.outputs[0]
    dim = out.shape[-1] if out.shape else 1
    return Work(float(numel(grad.shape)), all_in(op), all_out(op), grad.dtype,
                {"rows": numel(ids.shape), "row_bytes": dim * out.dtype.bytes,
                 "table_rows": out.shape[0] if out.shape else 0})
