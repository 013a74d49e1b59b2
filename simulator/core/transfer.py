"""A profile for a device nobody measured, derived from the nearest measured one.

The rule (docs/calibration.md):

- **Nearest**: among the shipped devices with a profile fitted on their own measurements for
  the engine, the one of the same vendor whose dense 16-bit matrix peak and memory bandwidth
  are closest, by the sum of |log(ratio)| of the two. A shipped device of a vendor nobody
  measured takes the nearest of any vendor (and says so); a user's spec of such a vendor keeps
  its spec defaults, since nothing measured relates to it.
- **Efficiencies are fractions of each device's own peaks**, so they carry over unchanged: the
  target's peaks, bandwidth, compute units and links price them. A compute dtype the source
  never measured (fp8 from an A100) runs at the source's base-dtype GEMM values.
- **Fixed costs and shape parameters carry over** (per-kernel seconds, tile sets, ramps).
- **Intervals widen by the measured transfer error**: each class's p10-p90 of measured /
  predicted becomes (p10 / (1 + e), p90 x (1 + e)), where e is the median error that class
  showed when this rule moved a profile between two measured GPUs (`archsim validate
  --transfer --save`, kept in `hwspecs/calibration/transfer.yaml`); a class it never measured
  widens by the largest e.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.profile import CALIBRATION_DIR, EfficiencyProfile

TRANSFER_FILE = CALIBRATION_DIR / "transfer.yaml"
_PEAK_DTYPES = (DType.BF16, DType.FP16)


def balance_distance(a: DeviceSpec, b: DeviceSpec) -> float:
    """How far apart two devices are for the rule: |log| ratios of 16-bit peak and bandwidth
    (a device without a 16-bit peak is infinitely far)."""
    pa, pb = _peak16(a), _peak16(b)
    if not pa or not pb:
        return math.inf
    return abs(math.log(pa / pb)) + abs(math.log(a.mem_bw_bytes_per_s / b.mem_bw_bytes_per_s))


def _peak16(d: DeviceSpec) -> float:
    return next((d.matrix_peak_flops_per_s[t] for t in _PEAK_DTYPES
                 if t in d.matrix_peak_flops_per_s), 0.0)


def nearest_key(d: DeviceSpec) -> tuple:
    """What the rule reads of a device (a cache key)."""
    return (d.name, d.path, d.vendor, _peak16(d), d.mem_bw_bytes_per_s)


def nearest(target: DeviceSpec, measured: list[DeviceSpec], any_vendor: bool = True
            ) -> DeviceSpec | None:
    """The measured device the rule takes the profile from (None when none is comparable);
    another vendor's only where `any_vendor`."""
    ranked = sorted(((d.vendor != target.vendor, balance_distance(target, d), d.name, d)
                     for d in measured if d.name != target.name
                     and (any_vendor or d.vendor == target.vendor)), key=lambda r: r[:3])
    ranked = [r for r in ranked if math.isfinite(r[1])]
    return ranked[0][3] if ranked else None


def transferred_for(target: DeviceSpec, measured: dict[str, EfficiencyProfile]
                    ) -> EfficiencyProfile | None:
    """The rule's profile for `target` from the measured devices' own profiles (by device
    name), or None when none is comparable."""
    from hwspecs import device_names, load_device

    devices = [load_device(name) for name in sorted(measured)]
    source = nearest(target, devices, any_vendor=_is_shipped(target, device_names()))
    return None if source is None else transfer_profile(measured[source.name], source, target)


def _is_shipped(device: DeviceSpec, shipped: list[str]) -> bool:
    from pathlib import Path

    return device.name in shipped and Path(device.path).parent.name == "devices"


def transfer_profile(source: EfficiencyProfile, source_device: DeviceSpec,
                     target: DeviceSpec, widening: dict[str, float] | None = None
                     ) -> EfficiencyProfile:
    """`source` (fitted on `source_device`) moved to `target` by the rule above."""
    widening = load_widening() if widening is None else widening
    worst = max(widening.values(), default=0.0)
    intervals = {k: (lo / (1.0 + widening.get(k, worst)), hi * (1.0 + widening.get(k, worst)))
                 for k, (lo, hi) in source.intervals.items()}
    how = f"transferred from {source_device.name} by the transfer rule"
    if source_device.vendor != target.vendor:
        how += f" (from a {source_device.vendor} GPU: {target.vendor}'s kernels unmeasured)"
    return replace(source, name=f"{target.name} {source.engine}, transferred",
                   source=f"{source.source}; moved to {target.name} by the transfer rule "
                          "(docs/calibration.md)",
                   provenance=f"{how}; fitted on {source_device.name} {source.engine} "
                              "measurements",
                   intervals=intervals)


def is_transferred(profile: EfficiencyProfile, device: DeviceSpec) -> bool:
    """True when the profile was fitted on another device than the one it prices."""
    return profile.fitted and bool(profile.fitted_on) and profile.fitted_on != device.name


@lru_cache(maxsize=4)
def _widening(mtime_ns: int) -> dict[str, float]:
    return check_widening_file(TRANSFER_FILE)


def check_widening_file(path) -> dict[str, float]:
    """The per-class widening a transfer file holds; ValueError naming the file when it is not
    a mapping with a `source` and non-negative `median_abs_error` fractions."""
    from hwspecs import yaml_strict

    errors = yaml_strict.load_sourced(path, "transfer file", "median_abs_error",
                                      "'median_abs_error' per kernel class")
    bad = [k for k, v in errors.items()
           if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v < 100]
    if bad:
        raise ValueError(f"{path}: median_abs_error must be fractions >= 0: {', '.join(bad)}")
    return {str(k): float(v) for k, v in errors.items()}


def load_widening() -> dict[str, float]:
    """Per kernel class, the median transfer error measured between GPUs ({} before any)."""
    if not TRANSFER_FILE.is_file():
        return {}
    return dict(_widening(TRANSFER_FILE.stat().st_mtime_ns))
