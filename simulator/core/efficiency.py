"""Shape-dependent efficiency: what fraction of a peak a kernel of this shape reaches.

One `EfficiencyProfile` holds every parameter. Defaults come from the device spec's
`defaults_until_calibrated` plus `hwspecs/calibration/default.yaml`; a fitted profile
(`hwspecs/calibration/<device>.yaml`) replaces them; `ideal()` is the speed of light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hwspecs.schema import DeviceSpec

CALIBRATION_DIR = Path(__file__).resolve().parents[2] / "hwspecs" / "calibration"


@dataclass(frozen=True)
class EfficiencyProfile:
    name: str
    source: str
    matrix_fraction: float
    vector_fraction: float
    memory_fraction: float
    kernel_overhead_s: float
    attention_fraction: float
    gemm_tile_m: tuple[int, ...]
    gemm_tile_n: int
    gemm_mma_m: int
    gemm_split_k_min: int
    gemm_k_half: float
    gemm_m_half: float
    attention_block_q: int
    attention_kv_half: float
    attention_q_half: float
    attention_head_dim_half: float
    memory_half_bytes: float
    dequant_flops_per_element: float
    fitted: bool = False
    ideal: bool = False
    # Calibration residuals per kernel class: (p10, p90) of measured / predicted time.
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # Shapes the fit saw per kernel class, e.g. {"gemm": {"flops": [lo, hi]}}.
    measured_range: Mapping[str, Mapping[str, tuple[float, float]]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("matrix_fraction", "vector_fraction", "memory_fraction",
                     "attention_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"efficiency profile {self.name!r}: {name} must be in (0, 1], "
                                 f"not {value}")
        if self.kernel_overhead_s < 0:
            raise ValueError(f"efficiency profile {self.name!r}: kernel_overhead_s is negative")


_PROFILE_KEYS = {f.name for f in fields(EfficiencyProfile)}


@cache
def _shape_defaults() -> dict[str, Any]:
    raw = yaml.safe_load((CALIBRATION_DIR / "default.yaml").read_text())
    raw["gemm_tile_m"] = tuple(raw["gemm_tile_m"])
    return raw


def default_profile(device: DeviceSpec) -> EfficiencyProfile:
    d = device.defaults
    shape = _shape_defaults()
    return EfficiencyProfile(
        **{k: v for k, v in shape.items() if k not in ("name", "source")},
        name=f"{device.name} defaults (not calibrated)",
        source=f"{device.path}: defaults_until_calibrated; {shape['source']}",
        matrix_fraction=d.matrix_fraction, vector_fraction=d.vector_fraction,
        memory_fraction=d.memory_fraction, kernel_overhead_s=d.kernel_overhead_s)


def ideal(profile: EfficiencyProfile) -> EfficiencyProfile:
    """Speed of light: every efficiency 1, no overhead, no quantization or ramp losses."""
    return replace(profile, name="ideal (speed of light)", matrix_fraction=1.0,
                   vector_fraction=1.0, memory_fraction=1.0, attention_fraction=1.0,
                   kernel_overhead_s=0.0, gemm_k_half=0.0, gemm_m_half=0.0,
                   attention_kv_half=0.0, attention_q_half=0.0,
                   attention_head_dim_half=0.0, memory_half_bytes=0.0, ideal=True,
                   intervals={}, measured_range={})


def load_profile(path: str | Path) -> EfficiencyProfile:
    """A profile YAML (as written by `archsim calibrate`)."""
    raw = yaml.safe_load(Path(path).read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: an efficiency profile must be a YAML mapping")
    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown profile field(s) {', '.join(sorted(unknown))}")
    merged = {**_shape_defaults(), **raw}
    merged["gemm_tile_m"] = tuple(merged["gemm_tile_m"])
    merged["intervals"] = {k: tuple(v) for k, v in merged.get("intervals", {}).items()}
    missing = _PROFILE_KEYS - set(merged) - {"fitted", "ideal", "intervals", "measured_range"}
    if missing:
        raise ValueError(f"{path}: missing profile field(s) {', '.join(sorted(missing))}")
    return EfficiencyProfile(**merged)


def check_profile_file(path: str | Path) -> None:
    """Validate a calibration YAML: the shared shape defaults or a fitted profile."""
    if Path(path).name == "default.yaml":
        raw = yaml.safe_load(Path(path).read_text())
        if not isinstance(raw, dict) or not str(raw.get("source", "")).strip():
            raise ValueError(f"{path}: the shape defaults need a mapping with a 'source'")
        unknown = set(raw) - _PROFILE_KEYS
        if unknown:
            raise ValueError(f"{path}: unknown profile field(s) {', '.join(sorted(unknown))}")
        return
    load_profile(path)


def profile_for(device: DeviceSpec) -> EfficiencyProfile:
    """The fitted profile for this device when one is shipped, else its spec defaults."""
    fitted = CALIBRATION_DIR / f"{device.name}.yaml"
    return load_profile(fitted) if fitted.exists() else default_profile(device)


def _ramp(x: np.ndarray, half: float) -> np.ndarray:
    """x / (x + half): 1 for large x, 0.5 at x == half."""
    return np.ones_like(x) if half <= 0 else x / (x + half)


def _wave_efficiency(work_units: np.ndarray, processors: int) -> np.ndarray:
    """Useful fraction of the last, partly filled wave: 129 tiles on 132 SMs fill one wave,
    133 tiles need two."""
    waves = np.ceil(work_units / processors)
    return np.where(work_units > 0, work_units / np.maximum(waves * processors, 1), 1.0)


def gemm_efficiency(m: np.ndarray, n: np.ndarray, k: np.ndarray, batch: np.ndarray,
                    processors: int | None, p: EfficiencyProfile) -> np.ndarray:
    """Fraction of the matrix peak: tile padding, wave quantization with split-K, ramps in K
    (pipeline fill) and in M (skinny GEMMs)."""
    if p.ideal:
        return np.ones_like(m, dtype=float)
    m, n, k, batch = (np.maximum(x, 1.0) for x in (m, n, k, batch))
    best = np.zeros_like(m, dtype=float)
    mma = float(p.gemm_mma_m)
    padded_m = np.ceil(m / mma) * mma
    for tm in p.gemm_tile_m:
        tn = float(p.gemm_tile_n)
        tiles_n = np.ceil(n / tn)
        tiles = np.ceil(m / tm) * tiles_n * batch
        pad = m * n / (padded_m * tiles_n * tn)
        if processors:
            # Libraries split K across idle processors when the tiles are too few.
            splits = np.clip(np.floor(processors / tiles), 1,
                             np.maximum(np.floor(k / p.gemm_split_k_min), 1))
            wave = _wave_efficiency(tiles * splits, processors)
        else:
            wave = np.ones_like(m)
        best = np.maximum(best, pad * wave)
    return p.matrix_fraction * best * _ramp(k, p.gemm_k_half) * _ramp(m, p.gemm_m_half)


def attention_efficiency(q_len: np.ndarray, kv_len: np.ndarray, head_dim: np.ndarray,
                         batch_heads: np.ndarray, processors: int | None,
                         p: EfficiencyProfile) -> np.ndarray:
    """Fraction of the matrix peak a flash-attention kernel reaches."""
    if p.ideal:
        return np.ones_like(q_len, dtype=float)
    blocks = np.maximum(batch_heads, 1) * np.ceil(np.maximum(q_len, 1) / p.attention_block_q)
    wave = _wave_efficiency(blocks, processors) if processors else np.ones_like(blocks)
    return (p.attention_fraction * wave * _ramp(np.maximum(kv_len, 1.0), p.attention_kv_half)
            * _ramp(np.maximum(q_len, 1.0), p.attention_q_half)
            * _ramp(np.maximum(head_dim, 1.0), p.attention_head_dim_half))


def memory_efficiency(n_bytes: np.ndarray, p: EfficiencyProfile) -> np.ndarray:
    """Fraction of the memory bandwidth a transfer of this size reaches."""
    return p.memory_fraction * _ramp(np.maximum(n_bytes, 1.0), p.memory_half_bytes)
