"""What device and software a measurement ran on: read from the OS, torch and nvidia-smi.

Every reader returns None for what it cannot read (a VM hides clocks; a container may have
no nvidia-smi) rather than guessing.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_CPU_SYS = Path("/sys/devices/system/cpu/cpu0/cache")
_RAPL = Path("/sys/class/powercap/intel-rapl:0/constraint_0_power_limit_uw")
_SIZE = re.compile(r"^(\d+)\s*([KMG]?)")
_VENDORS = {"AuthenticAMD": "AMD", "GenuineIntel": "Intel", "ARM": "Arm"}


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # NB: macOS has no affinity call; all CPUs count.
        return os.cpu_count() or 1


def _cpuinfo() -> list[dict[str, str]]:
    """One dict per logical CPU from /proc/cpuinfo; empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    cpus = []
    for block in text.strip().split("\n\n"):
        entry = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                entry[key.strip()] = value.strip()
        cpus.append(entry)
    return cpus


def _size_bytes(text: str) -> int | None:
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(match.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match.group(2)]


def _last_level_cache_bytes() -> int | None:
    best: tuple[int, int] | None = None
    for index in sorted(_CPU_SYS.glob("index*")):
        try:
            level = int((index / "level").read_text())
            size = _size_bytes((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if size and (best is None or level > best[0]):
            best = (level, size)
    return None if best is None else best[1]


def meminfo_total_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rapl_power_limit_w() -> float | None:
    try:
        return int(_RAPL.read_text()) / 1e6
    except (OSError, ValueError):
        return None


def cpu_fingerprint(threads: int) -> dict:
    """The host CPU as seen by this process, with the torch thread count used."""
    import torch

    cpus = _cpuinfo()
    first = cpus[0] if cpus else {}
    cores = {(c.get("physical id"), c.get("core id")) for c in cpus if "core id" in c}
    mhz = first.get("cpu MHz")
    return {
        "kind": "cpu",
        "name": first.get("model name") or platform.processor() or platform.machine(),
        "vendor": _VENDORS.get(first.get("vendor_id", ""), first.get("vendor_id") or None),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "physical_cores": len(cores) or None,
        "threads": threads,
        "clock_mhz": float(mhz) if mhz else None,
        "last_level_cache_bytes": _last_level_cache_bytes(),
        "memory_bytes": meminfo_total_bytes(),
        "isa": torch.backends.cpu.get_cpu_capability(),
        "hypervisor": "hypervisor" in first.get("flags", "").split(),
        "power_limit_w": _rapl_power_limit_w(),
        "machine": platform.machine(),
    }


def _nvidia_smi(index: int) -> dict[str, str | None]:
    fields = ("driver_version", "clocks.max.sm", "clocks.max.memory", "power.limit")
    try:
        out = subprocess.run(
            ["nvidia-smi", "-i", str(index), f"--query-gpu={','.join(fields)}",
             "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values = [v.strip() for v in out.strip().splitlines()[0].split(",")] if out.strip() else []
    if len(values) != len(fields):
        return {}
    return {f: (None if v.startswith("[") or not v else v) for f, v in zip(fields, values, strict=True)}


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def cuda_fingerprint() -> dict:
    """The current CUDA device: torch's properties plus what nvidia-smi reads."""
    import torch

    index = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    smi = _nvidia_smi(index)
    l2 = getattr(props, "L2_cache_size", None)
    return {
        "kind": "cuda",
        "name": props.name,
        "vendor": "NVIDIA" if torch.version.hip is None else "AMD",
        "sm_count": props.multi_processor_count,
        "compute_capability": f"{props.major}.{props.minor}",
        "memory_bytes": int(props.total_memory),
        "last_level_cache_bytes": int(l2) if l2 else None,
        "clock_mhz": _float(smi.get("clocks.max.sm")),
        "memory_clock_mhz": _float(smi.get("clocks.max.memory")),
        "power_limit_w": _float(smi.get("power.limit")),
        "driver": smi.get("driver_version"),
        "host_cpu": (_cpuinfo() or [{}])[0].get("model name"),
    }


def library_versions() -> dict[str, str | None]:
    import numpy
    import pandas
    import torch

    try:
        archsim = metadata.version("archsim")
    except metadata.PackageNotFoundError:
        archsim = None
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available()
        else None,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "archsim": archsim,
        "platform": platform.platform(),
    }


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def device_slug(fingerprint: dict) -> str:
    """The folder name of a device's data: 'nvidia-h200', 'cpu-amd-epyc-2t'."""
    if fingerprint["kind"] == "cuda":
        return slugify(fingerprint["name"])
    name = re.sub(r"\(r\)|\(tm\)|\bcpu\b|\bprocessor\b", " ", fingerprint["name"].lower())
    return f"cpu-{slugify(name)}-{fingerprint['threads']}t"
