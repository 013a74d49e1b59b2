"""How busy the host was while measuring: other processes' CPU time and the load average.

CPU kernels that run on OpenMP threads wait for each other, so one competing process on a
2-core machine can stretch a 100 us kernel to a scheduler tick (several ms). The records keep
this, and the CLI warns, so slow numbers are not mistaken for the device's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

# NB: a run counts as disturbed when other work took a fifth of the CPUs' time.
BUSY_SHARE = 0.2


def _system_cpu_s() -> tuple[float, float] | None:
    """(busy, steal) CPU seconds of the whole host since boot, from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields[:8]] + [0] * (8 - len(fields[:8]))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / hz, steal / hz


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


class HostLoad:
    """Started before measuring, read after: the other CPU work that ran meanwhile."""

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus
        self.load_before = _load_average()
        self.system = _system_cpu_s()
        self.own = _own_cpu_s()
        self.wall = time.perf_counter()

    def read(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.wall
        out: dict[str, Any] = {"load_average_before": self.load_before,
                               "load_average_after": _load_average(), "cpus": self.cpus}
        now = _system_cpu_s()
        if self.system is not None and now is not None and wall > 0:
            other = max(0.0, now[0] - self.system[0] - (_own_cpu_s() - self.own))
            out.update(other_cpu_s=round(other, 2), steal_cpu_s=round(now[1] - self.system[1], 2),
                       other_cpu_share=round(other / (wall * self.cpus), 3))
        return out


def busy_warning(meta: dict[str, Any]) -> str | None:
    """A sentence when other work competed for the CPUs during a CPU benchmark, else None."""
    host = meta.get("host_load") or {}
    if meta["device"]["kind"] != "cpu":
        return None
    share = host.get("other_cpu_share")
    load = (host.get("load_average_before") or [0.0])[0]
    cpus = host.get("cpus") or 1
    if share is not None and share >= BUSY_SHARE:
        what = f"other processes used {share:.0%} of the {cpus} CPUs while it ran"
    elif load >= 0.5 * cpus:
        what = f"the load average was {load:.1f} on {cpus} CPUs when it started"
    else:
        return None
    return f"the machine was busy ({what}): CPU timings are slow and noisy; re-run when idle"
