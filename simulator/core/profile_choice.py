"""Which profile prices a device: its own fitted one, one moved from the nearest measured
device by the transfer rule (`simulator.core.transfer`), or its spec defaults."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from hwspecs.schema import DeviceSpec
from simulator.core.profile import (
    CALIBRATION_DIR,
    DEFAULT_ENGINE,
    EfficiencyProfile,
    check_engine,
    default_profile,
    ideal,
    load_profile,
)
from simulator.core.transfer import TRANSFER_FILE, nearest_key, transferred_for


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
    """The profile that prices this device: its own fitted one when shipped; else one moved
    from the nearest measured device by the transfer rule (`simulator.core.transfer`); else
    its spec defaults."""
    path = profile_path(device.name, engine)
    if path is not None:
        return _load_cached(str(path), os.stat(path).st_mtime_ns)
    moved = _transferred(device, engine or DEFAULT_ENGINE)
    return moved if moved is not None else default_profile(device)


_TRANSFERS: dict[tuple, EfficiencyProfile | None] = {}


def _transferred(device: DeviceSpec, engine: str) -> EfficiencyProfile | None:
    """Moved once per device (what the rule reads of it), engine and state of the files."""
    state = (nearest_key(device), engine, os.stat(CALIBRATION_DIR).st_mtime_ns,
             TRANSFER_FILE.stat().st_mtime_ns if TRANSFER_FILE.is_file() else 0)
    if state not in _TRANSFERS:
        _TRANSFERS[state] = transferred_for(device, measured_profiles(engine))
    return _TRANSFERS[state]


def measured_profiles(engine: str) -> dict[str, EfficiencyProfile]:
    """Shipped devices' profiles fitted on their own measurements for this engine, by
    device name."""
    from hwspecs import device_names

    shipped, out = set(device_names()), {}
    for f in _calibration_files(os.stat(CALIBRATION_DIR).st_mtime_ns):
        name, _, rest = f.partition(".")
        if rest == f"{engine}.yaml" and name in shipped:
            path = CALIBRATION_DIR / f
            own = _load_cached(str(path), os.stat(path).st_mtime_ns)
            if own.fitted and own.fitted_on == name:
                out[name] = own
    return out


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> EfficiencyProfile:
    return load_profile(path)


def resolve_profile(device: DeviceSpec, profile: EfficiencyProfile | None = None,
                    ideal_: bool = False, engine: str | None = None) -> EfficiencyProfile:
    """The profile that prices `device`: the one given, else its fitted or default one; the
    speed of light on top where `ideal_`."""
    chosen = profile or profile_for(device, engine)
    return ideal(chosen) if ideal_ else chosen
