"""Find shipped devices and systems by name, or load a YAML file by path.

A system reference can scale out a shipped system or a bare device:
  "dgx-h100"                                  the shipped system as it is
  "dgx-h100:nodes=4,nic_Gbps=800,fabric=roce" 4 such nodes on an 800 Gb/s-per-GPU fabric
  "h100-sxm:devices=8"                        8 devices in one scale-up domain
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from functools import cache
from pathlib import Path

from hwspecs.build import _scale_out, device_from_file, make_system, system_from_file
from hwspecs.load import check_system, read_yaml
from hwspecs.schema import DeviceSpec, ScaleOut, System

ROOT = Path(__file__).resolve().parent
DEVICES_DIR = ROOT / "devices"
SYSTEMS_DIR = ROOT / "systems"


def device_names() -> list[str]:
    return sorted(p.stem for p in DEVICES_DIR.glob("*.yaml"))


def system_names() -> list[str]:
    return sorted(p.stem for p in SYSTEMS_DIR.glob("*.yaml"))


def _unknown(kind: str, name: str, known: list[str]) -> LookupError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
    return LookupError(f"unknown {kind} {name!r}{hint}")


def load_device(ref: str) -> DeviceSpec:
    """A shipped device by name, or any device YAML by path."""
    if ref.endswith((".yaml", ".yml")):
        return device_from_file(ref)
    return _shipped_device(ref.strip().lower())


@cache
def _shipped_device(name: str) -> DeviceSpec:
    path = DEVICES_DIR / f"{name}.yaml"
    if not path.exists():
        raise _unknown("device", name, device_names())
    return device_from_file(path)


def load_all_devices() -> list[DeviceSpec]:
    return [_shipped_device(n) for n in device_names()]


def load_system(ref: str) -> System:
    """A shipped system, a system YAML, or a device, optionally scaled (see module doc)."""
    base, _, opts_text = ref.strip().partition(":")
    base = base.strip()
    opts = _parse_options(ref, opts_text)
    is_file = base.endswith((".yaml", ".yml"))
    # A YAML path is a system file when it names its device; otherwise it is a device file.
    if base.lower() in system_names() or (is_file and "device" in read_yaml(base)):
        system = system_from_file(base, load_device) if is_file \
            else _shipped_system(base.lower())
        bad = set(opts) - {"nodes", "nic_Gbps", "fabric"}
        if bad:
            raise ValueError(f"system reference {ref!r}: unknown option(s) "
                             f"{', '.join(sorted(bad))} (allowed: nodes, nic_Gbps, fabric)")
        return _scaled_out(system, opts, ref) if opts else system
    if base.lower() in device_names() or is_file:
        return _device_system(base, opts, ref)
    raise _unknown("system or device", base, system_names() + device_names())


@cache
def _shipped_system(name: str) -> System:
    return system_from_file(SYSTEMS_DIR / f"{name}.yaml", load_device)


def _parse_options(ref: str, text: str) -> dict[str, str]:
    opts: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not value:
            raise ValueError(f"system reference {ref!r}: option {item!r} must be key=value")
        opts[key.strip()] = value.strip()
    return opts


def _positive_int(ref: str, key: str, value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"system reference {ref!r}: {key} must be a positive whole number, "
                         f"not {value!r}")
    return n


def _scaled_out(system: System, opts: dict[str, str], ref: str) -> System:
    nodes = _positive_int(ref, "nodes", opts.get("nodes", str(system.nodes)))
    # A one-node system keeps no level for its NIC, so its fabric comes from its file.
    own = _scale_out(check_system(system.path)) if system.path else None
    own = own or system.device.scale_out
    out = _fabric(own, opts, ref) or own
    if nodes > 1 and out is None:
        raise ValueError(f"system reference {ref!r}: {nodes} nodes need a fabric; give "
                         "nic_Gbps=...")
    up = system.device.scale_up
    inner = system.levels[0] if system.levels and system.devices_per_node > 1 else None
    if inner is not None and up is not None:
        up = replace(up, bw_bytes_per_s=inner.bw_bytes_per_s, latency_s=inner.latency_s,
                     domain_size=max(up.domain_size, inner.group_size))
    return make_system(f"{system.name}x{nodes}", f"{nodes} x {system.display_name}",
                       system.device, system.devices_per_node, nodes, up, out,
                       sources=dict(system.sources), path=system.path)


def _fabric(base: ScaleOut | None, opts: dict[str, str], ref: str) -> ScaleOut | None:
    if "nic_Gbps" not in opts:
        return None
    try:
        gbps = float(opts["nic_Gbps"])
    except ValueError:
        gbps = -1.0
    if not 1 <= gbps <= 80_000:
        raise ValueError(f"system reference {ref!r}: nic_Gbps must be between 1 and 80000 "
                         f"Gb/s per device, not {opts['nic_Gbps']!r}")
    latency = base.latency_s if base else 0.0
    return ScaleOut(opts.get("fabric", base.fabric if base else "infiniband"),
                    gbps * 1e9 / 8, latency)


def _device_system(base: str, opts: dict[str, str], ref: str) -> System:
    device = load_device(base)
    bad = set(opts) - {"devices", "nodes", "nic_Gbps", "fabric"}
    if bad:
        raise ValueError(f"system reference {ref!r}: unknown option(s) "
                         f"{', '.join(sorted(bad))} (allowed: devices, nodes, nic_Gbps, fabric)")
    per_node = _positive_int(ref, "devices", opts.get("devices", "1"))
    nodes = _positive_int(ref, "nodes", opts.get("nodes", "1"))
    up = device.scale_up
    if per_node > 1 and (up is None or per_node > up.domain_size):
        limit = 1 if up is None else up.domain_size
        raise ValueError(f"system reference {ref!r}: {device.name} has a scale-up domain of "
                         f"{limit} device(s), not {per_node}")
    out = _fabric(device.scale_out, opts, ref) or device.scale_out
    if nodes > 1 and out is None:
        raise ValueError(f"system reference {ref!r}: {device.name} has no scale-out NIC in its "
                         "spec; give nic_Gbps=...")
    name = device.name if per_node * nodes == 1 else f"{device.name}x{per_node * nodes}"
    return make_system(name, f"{per_node * nodes} x {device.display_name}", device, per_node,
                       nodes, up, out if nodes > 1 else None, path=device.path)
