"""Per-op FLOP and byte formulas, one module per op family, in one registry keyed by aten target.

`work_of(raw_op)` prices one traced op; `formula_for(target)` gives its kernel kind and how it
may fuse. Importing this package registers every family.
"""

from __future__ import annotations

from workloads.ops import (  # noqa: F401  (each module registers its family)
    attention,
    elementwise,
    embedding,
    gemm,
    memory,
    norm,
    optimizer,
    reduction,
    view,
)
from workloads.ops.registry import (
    formula_for,
    generic_work,
    is_known,
    register,
    registered_keys,
    unknown_targets,
)
from workloads.ops.view import is_alias
from workloads.ops.work import Formula, Fuse, Work
from workloads.raw import RawOp


def work_of(op: RawOp) -> Work:
    """FLOPs and per-tensor bytes of one traced op, as traced (before any lowering pass)."""
    return formula_for(op.target).fn(op)


__all__ = ["Formula", "Fuse", "Work", "formula_for", "generic_work", "is_alias", "is_known",
           "register", "registered_keys", "unknown_targets", "work_of"]
