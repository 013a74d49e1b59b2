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
from hwspecs.schema import DeviceSpec, EfficiencyDefaults, LinkLevel, System

__all__ = [
    "DType", "DeviceSpec", "EfficiencyDefaults", "LinkLevel", "SpecError", "System",
    "device_names", "load_all_devices", "load_device", "load_system", "system_names",
]
