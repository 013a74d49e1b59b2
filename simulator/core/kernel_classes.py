"""What a fitted profile gives a class of kernels beyond the single figures: a fraction per
compute dtype, a fixed cost per class (and dtype), and decode attention priced as the read of
its KV cache. Each returns None where the profile leaves the single figure in place, so an
unfitted profile prices exactly as it did.
"""

from __future__ import annotations

import numpy as np

from simulator.core.arrays import CLASSES, KIND_CODE, OpArrays
from simulator.core.efficiency import gemm_efficiency
from simulator.core.profile import EfficiencyProfile
from workloads.op import OpKind

# A fused MoE's expert GEMMs are other kernels than a dense GEMM: their own fixed cost where
# a profile has one ("grouped_gemm.<dtype>", "grouped_gemm"), else the gemm class's.
GROUPED_GEMM = "grouped_gemm"


def _ramp(x: np.ndarray, half: float) -> np.ndarray | float:
    return 1.0 if half <= 0 else x / (x + half)


def gemm_by_dtype(a: OpArrays, profile: EfficiencyProfile, dtypes: tuple[str, ...],
                  processors: int | None) -> np.ndarray:
    """Each GEMM row's efficiency, priced with its compute dtype's own values where the
    profile has them (`for_gemm_dtype`), else the profile's; dtypes no matrix kernel runs in
    are left out (their rows' values are never used)."""
    def eff(p: EfficiencyProfile) -> np.ndarray:
        return gemm_efficiency(a.m, a.n, a.k, a.batch, processors, p)

    used = [(j, profile.for_gemm_dtype(dtypes[j])) for j, code in enumerate(a.dtype_codes)
            if code in a.matrix_dtype_codes]
    own = [(j, sub) for j, sub in used if sub is not profile]
    out = eff(profile) if len(own) < len(used) or not used else None
    for j, sub in own:
        out = eff(sub) if out is None else np.where(a.dtype_index == j, eff(sub), out)
    return out


def attention_scale(a: OpArrays, profile: EfficiencyProfile, dtypes: tuple[str, ...],
                    index: np.ndarray) -> np.ndarray | None:
    """Per attention row: its dtype's attention fraction over the profile's single one."""
    at = profile.attention_fraction_by_dtype
    if not at:
        return None
    scale = np.array([at.get(d, profile.attention_fraction) for d in dtypes]) \
        / profile.attention_fraction
    return np.where(a.is_attention, scale[index], 1.0)


def overheads(a: OpArrays, profile: EfficiencyProfile, dtypes: tuple[str, ...],
              index: np.ndarray) -> np.ndarray | None:
    """Per row: the fixed cost of its class and dtype (None: the one per-kernel overhead).
    `dtypes` names the compute dtypes, `index` each row's among them (`pricing.Peaks`)."""
    if not profile.overheads:
        return None
    table, grouped = profile.derived(("overheads", a.classes_present, dtypes),
                                      lambda: _overhead_table(profile, a.classes_present, dtypes))
    per_row = table[a.class_code, index]
    if grouped is None:
        return per_row
    own = grouped[index]
    rows = (a.kind == KIND_CODE[OpKind.GROUPED_GEMM]) & ~np.isnan(own)
    return np.where(rows, own, per_row)


def _overhead_table(profile: EfficiencyProfile, classes: tuple[int, ...],
                    dtypes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    """(class x dtype fixed costs, each dtype's grouped-GEMM cost or None where none has one)."""
    table = np.zeros((len(CLASSES), len(dtypes)))
    for c in classes:
        for j, d in enumerate(dtypes):
            table[c, j] = profile.overhead_for(CLASSES[c], d)
    o = profile.overheads
    grouped = np.array([o.get(f"{GROUPED_GEMM}.{d}", o.get(GROUPED_GEMM, np.nan))
                        for d in dtypes])
    return table, None if np.isnan(grouped).all() else grouped


def decode_row_s(a: OpArrays, profile: EfficiencyProfile, units: int | None,
                 per_head: np.ndarray | None = None) -> np.ndarray | None:
    """Per row: the least time decode attention takes for its work items, spread over the
    compute units (None where the profile has no such cost; 0 elsewhere); work items as
    `decode_items` counts them (`per_head` from `decode_per_head`)."""
    if profile.decode_row_unit_s <= 0:
        return None
    decode = a.class_code == CLASSES.index("attention_decode")
    return np.where(decode, decode_items(a, profile, per_head) * profile.decode_row_unit_s
                    / max(units or 1, 1), 0.0)


def decode_items(a: OpArrays, profile: EfficiencyProfile,
                 per_head: np.ndarray | None = None) -> np.ndarray:
    """Per attention row: its decode work items. With `decode_packed_items`, one per
    sequence's KV head with its group of query heads packed on it (batch x heads / group),
    or one per query head where the group is too large to pack (`per_head`); otherwise one
    per query head (batch x heads)."""
    heads = np.maximum(a.batch, 1.0)
    if not profile.decode_packed_items:
        return heads
    items = heads / np.maximum(a.group, 1.0)
    return items if per_head is None else np.where(per_head, heads, items)


def decode_memory_efficiency(a: OpArrays, moved: np.ndarray, profile: EfficiencyProfile,
                             per_head: np.ndarray | None = None) -> np.ndarray | None:
    """Per row: decode attention's fraction of the bandwidth (None where the profile has no
    decode model; rows that are not decode attention get NaN and keep the generic one)."""
    if profile.decode_memory_fraction <= 0:
        return None
    decode = a.class_code == CLASSES.index("attention_decode")
    eff = (profile.decode_memory_fraction
           * _ramp(np.maximum(moved, 1.0), profile.decode_half_bytes)
           * _ramp(decode_items(a, profile, per_head), profile.decode_parallel_half))
    return np.where(decode, eff, np.nan)


def decode_per_head(a: OpArrays, profile: EfficiencyProfile) -> np.ndarray | None:
    """Per row: whether it is decode attention whose group of query heads per KV head is
    larger than one kernel packs (`decode_group_max`), so it runs one query head at a time on
    the vector units at `decode_head_fraction` of their peak (None where the profile has no
    such kernel)."""
    if profile.decode_group_max <= 0 or profile.decode_head_fraction <= 0:
        return None
    rows = (a.class_code == CLASSES.index("attention_decode")) \
        & (a.group > profile.decode_group_max)
    return rows if rows.any() else None
