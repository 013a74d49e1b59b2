"""What a fitted profile gives a class of kernels beyond the single figures: a fraction per
compute dtype, a fixed cost per class (and dtype), and decode attention priced as the read of
its KV cache. Each returns None where the profile leaves the single figure in place, so an
unfitted profile prices exactly as it did.
"""

from __future__ import annotations

import numpy as np

from simulator.core.arrays import CLASSES, OpArrays
from simulator.core.profile import EfficiencyProfile


def _ramp(x: np.ndarray, half: float) -> np.ndarray | float:
    return 1.0 if half <= 0 else x / (x + half)


def fraction_scale(a: OpArrays, profile: EfficiencyProfile, dtypes: tuple[str, ...]
                   ) -> np.ndarray | None:
    """Per row: the matrix (or attention) fraction of its dtype over the profile's single one
    (1 where no dtype has its own)."""
    m, at = profile.matrix_fraction_by_dtype, profile.attention_fraction_by_dtype
    if not m and not at:
        return None
    gemm = np.array([m.get(d, profile.matrix_fraction) for d in dtypes]) \
        / profile.matrix_fraction
    attention = np.array([at.get(d, profile.attention_fraction) for d in dtypes]) \
        / profile.attention_fraction
    i = a.dtype_index
    return np.where(a.is_attention, attention[i], gemm[i])


def overheads(a: OpArrays, profile: EfficiencyProfile, dtypes: tuple[str, ...]
              ) -> np.ndarray | None:
    """Per row: the fixed cost of its class and dtype (None: the one per-kernel overhead).
    `dtypes` names the compute dtype of each code in `a.dtype_codes`."""
    if not profile.overheads:
        return None
    table = np.zeros((len(CLASSES), len(dtypes)))
    for c in a.classes_present:
        for j, d in enumerate(dtypes):
            table[c, j] = profile.overhead_for(CLASSES[c], d)
    return table[a.class_code, a.dtype_index]


def decode_memory_efficiency(a: OpArrays, moved: np.ndarray, profile: EfficiencyProfile
                             ) -> np.ndarray | None:
    """Per row: decode attention's fraction of the bandwidth (None where the profile has no
    decode model; rows that are not decode attention get NaN and keep the generic one)."""
    if profile.decode_memory_fraction <= 0:
        return None
    decode = a.class_code == CLASSES.index("attention_decode")
    eff = (profile.decode_memory_fraction
           * _ramp(np.maximum(moved, 1.0), profile.decode_half_bytes)
           * _ramp(np.maximum(a.batch, 1.0), profile.decode_parallel_half))
    return np.where(decode, eff, np.nan)
