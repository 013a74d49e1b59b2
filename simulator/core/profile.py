"""The efficiency profile: every parameter of the shape-dependent efficiency model, with its
provenance, and which profile prices a device.

One `EfficiencyProfile` holds every parameter. Defaults come from the device spec's
`defaults_until_calibrated` plus `hwspecs/calibration/default.yaml`; a fitted profile
(`hwspecs/calibration/<device>.<engine>.yaml`, the engine being the software stack the
kernels were measured under) replaces them; `ideal()` is the speed of light.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from hwspecs.schema import DeviceSpec, EfficiencyDefaults

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
    return _default(device.name, device.path, device.defaults)


@lru_cache(maxsize=256)
def _default(name: str, path: str, d: EfficiencyDefaults) -> EfficiencyProfile:
    """Built once per spec: the profile reads only these fields of it."""
    shape = _shape_defaults()
    return EfficiencyProfile(
        **{k: v for k, v in shape.items() if k not in ("name", "source")},
        name=f"{name} defaults (not calibrated)",
        source=f"{path}: defaults_until_calibrated; {shape['source']}",
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


# The serving engines whose kernels a profile can be fitted to (`--engine`), the default first;
# `torch` is eager PyTorch, what `archsim bench` measures.
ENGINES = ("trtllm", "vllm", "sglang", "torch")
DEFAULT_ENGINE = ENGINES[0]


def check_engine(engine: str | None) -> str | None:
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    return engine


def profile_path(device_name: str, engine: str | None = None) -> Path | None:
    """The shipped fitted profile of a device (`<device>.<engine>.yaml`), if any: the named
    engine's; without one, the default engine's, else the first in name order."""
    files = _calibration_files(os.stat(CALIBRATION_DIR).st_mtime_ns)
    if engine is not None:
        name = f"{device_name}.{check_engine(engine)}.yaml"
        return CALIBRATION_DIR / name if name in files else None
    found = [f for f in files if f.startswith(f"{device_name}.") and f.count(".") == 2]
    preferred = f"{device_name}.{DEFAULT_ENGINE}.yaml"
    if preferred in found:
        return CALIBRATION_DIR / preferred
    return CALIBRATION_DIR / found[0] if found else None


@lru_cache(maxsize=4)
def _calibration_files(mtime_ns: int) -> tuple[str, ...]:
    """The profile files shipped (listed again whenever the folder changes)."""
    return tuple(sorted(p.name for p in CALIBRATION_DIR.glob("*.yaml")))


def profile_for(device: DeviceSpec, engine: str | None = None) -> EfficiencyProfile:
    """The fitted profile for this device when one is shipped, else its spec defaults."""
    path = profile_path(device.name, engine)
    if path is not None:
        return _load_cached(str(path), os.stat(path).st_mtime_ns)
    return _default(device.name, device.path, device.defaults)


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> EfficiencyProfile:
    return load_profile(path)


def resolve_profile(device: DeviceSpec, profile: EfficiencyProfile | None = None,
                    ideal_: bool = False, engine: str | None = None) -> EfficiencyProfile:
    """The profile that prices `device`: the one given, else its fitted or default one; the
    speed of light on top where `ideal_`."""
    chosen = profile or profile_for(device, engine)
    return ideal(chosen) if ideal_ else chosen
