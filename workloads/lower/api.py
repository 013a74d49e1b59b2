"""The one call from a model to its lowered workload: trace (or re-use a trace), then lower."""

from __future__ import annotations

from collections.abc import Iterable

from hwspecs.dtypes import DType
from workloads.op import Phase, Workload


def get_workload(ref, phase: Phase | str, batch: int, seq: int, context: int = 0,
                 dtype: DType = DType.BF16, disabled_passes: Iterable[str] = (),
                 reshape: bool = True) -> Workload:
    """The lowered kernels of one step of model `ref` (catalog name, config path or Hub id).

    `disabled_passes` names lowering passes to switch off (see `workloads.lower.fuse.PASSES`).
    `reshape=False`: trace this size as asked (cached by size) rather than fit a template of
    its cell, for a caller that asks this model for one size only (see `trace_raw`).
    """
    from workloads.lower.build import build_workload
    from workloads.lower.fuse import check_passes
    from workloads.trace.front import trace_raw

    off = check_passes(disabled_passes)
    return build_workload(trace_raw(ref, phase, batch, seq, context, dtype, reshape=reshape),
                          off)
