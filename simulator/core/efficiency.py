"""Shape-dependent efficiency: what fraction of a peak a kernel of this shape reaches.

Every parameter comes from one `EfficiencyProfile` (`simulator.core.profile`). GEMMs: tile
padding and wave quantization over the compute units with split-K, ramps in K and M;
attention: blocks per wave and ramps in kv length, query length and head size; memory: a ramp
in transfer size.
"""

from __future__ import annotations

import numpy as np

from simulator.core.profile import EfficiencyProfile


def _ramp(x: np.ndarray, half: float) -> np.ndarray | float:
    """x / (x + half): 1 for large x, 0.5 at x == half (1 everywhere when half is 0)."""
    return 1.0 if half <= 0 else x / (x + half)


def _wave_efficiency(work_units: np.ndarray, processors: int) -> np.ndarray:
    """Useful fraction of the last, partly filled wave: 129 tiles on 132 SMs fill one wave,
    133 tiles need two (work units are at least 1)."""
    return work_units / (np.ceil(work_units / processors) * processors)


def _tiles(p: EfficiencyProfile) -> tuple[np.ndarray, np.ndarray]:
    """(tile rows, tile columns) of every tile shape the library may pick, as (T, 1)."""
    def build() -> tuple[np.ndarray, np.ndarray]:
        pairs = p.gemm_tiles or tuple((tm, p.gemm_tile_n) for tm in p.gemm_tile_m)
        shape = np.array(pairs, dtype=float)
        return shape[:, :1], shape[:, 1:]

    return p.derived(("gemm_tiles",), build)


def gemm_efficiency(m: np.ndarray, n: np.ndarray, k: np.ndarray, batch: np.ndarray,
                    processors: int | None, p: EfficiencyProfile) -> np.ndarray:
    """Fraction of the matrix peak: tile padding, wave quantization with split-K, ramps in K
    (pipeline fill) and in M (skinny GEMMs); the best of the profile's tile heights wins."""
    if p.ideal:
        return np.ones_like(m, dtype=float)
    m, n, k, batch = (np.maximum(x, 1.0) for x in (m, n, k, batch))
    mma = float(p.gemm_mma_m)
    padded_m = np.ceil(m / mma) * mma
    tm, tn = _tiles(p)                                   # (tiles, 1): every candidate
    tiles_n = np.ceil(n / tn)
    tiles = np.ceil(m / tm) * tiles_n * batch
    pad = m * n / (padded_m * tiles_n * tn)
    if processors:
        # Libraries split K across idle processors when the tiles are too few.
        splits = np.minimum(np.maximum(np.floor(processors / tiles), 1.0),
                            np.maximum(np.floor(k / p.gemm_split_k_min), 1.0))
        if p.gemm_split_k_max:
            splits = np.minimum(splits, float(p.gemm_split_k_max))
        wave = _wave_efficiency(tiles * splits, processors)
    else:
        wave = np.ones_like(tiles)
    best = np.maximum((pad * wave).max(axis=0), 0.0)
    return p.matrix_fraction * best * _ramp(k, p.gemm_k_half) * _ramp(m, p.gemm_m_half)


def attention_efficiency(q_len: np.ndarray, kv_len: np.ndarray, head_dim: np.ndarray,
                         batch_heads: np.ndarray, processors: int | None,
                         p: EfficiencyProfile, visible_keys: np.ndarray | None = None
                         ) -> np.ndarray:
    """Fraction of the matrix peak a flash-attention kernel reaches: blocks of queries per
    wave of compute units, ramps in the keys each query visits, in the queries per block and
    in the head size (the softmax's per-score work against 4 x head_dim matrix FLOPs).

    With a fitted decode model (`decode_memory_fraction`), one-query rows (decode) split
    their keys over the compute units, so they keep the head-size ramp alone; and where
    `attention_keys` is "visible", the key ramp counts the keys a query sees through its mask
    (`visible_keys`: half a causal prompt, a window's width), as a kernel skips the rest."""
    if p.ideal:
        return np.ones_like(q_len, dtype=float)
    blocks = np.maximum(batch_heads, 1) * np.ceil(np.maximum(q_len, 1) / p.attention_block_q)
    wave = _wave_efficiency(blocks, processors) if processors else np.ones_like(blocks)
    keys = kv_len if visible_keys is None or p.attention_keys != "visible" else visible_keys
    head = _ramp(np.maximum(head_dim, 1.0), p.attention_head_dim_half)
    eff = (p.attention_fraction * wave * _ramp(np.maximum(keys, 1.0), p.attention_kv_half)
           * _ramp(np.maximum(q_len, 1.0), p.attention_q_half) * head)
    if p.decode_memory_fraction > 0:
        eff = np.where(q_len <= 1, p.attention_fraction * head, eff)
    return eff


def memory_efficiency(n_bytes: np.ndarray, p: EfficiencyProfile) -> np.ndarray:
    """Fraction of the memory bandwidth a transfer of this size reaches."""
    ramp = _ramp(np.maximum(n_bytes, 1.0), p.memory_half_bytes)
    if isinstance(ramp, float):
        return np.full(np.shape(n_bytes), p.memory_fraction * ramp)
    return p.memory_fraction * ramp
