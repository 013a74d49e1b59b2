"""Hardware as data: devices and systems from strict, sourced YAML, in SI units."""

from hwspecs.dtypes import DType
from hwspecs.errors import SpecError
from hwspecs.registry import (
    device_names,
    load_all_devices,
    load_device,
    load_system,
    system_names,
)
from hwspecs.scale import FACTOR_LABELS, FACTOR_NAMES, ScaleFactors
from hwspecs.schema import DeviceSpec, EfficiencyDefaults, LinkLevel, System

__all__ = [
    "FACTOR_LABELS", "FACTOR_NAMES", "DType", "DeviceSpec", "EfficiencyDefaults", "LinkLevel",
    "ScaleFactors", "SpecError", "System",
    "device_names", "load_all_devices", "load_device", "load_system", "system_names",
]
