"""The one place where human units in YAML keys become SI numbers.

A key's unit is its suffix (`bw_TBps`, `capacity_GB`, `nic_bw_Gbps`). Decimal prefixes unless
the key says GiB/MiB. Bits per second (`Gbps`) are divided by 8 here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    suffix: str       # as written at the end of a YAML key
    to_si: float      # multiply a value in this unit to get SI
    si_name: str      # the SI quantity it becomes


_UNITS = {
    u.suffix: u
    for u in (
        Unit("TFLOPS", 1e12, "flops_per_s"),
        Unit("TBps", 1e12, "bytes_per_s"),
        Unit("GBps", 1e9, "bytes_per_s"),
        Unit("Gbps", 1e9 / 8, "bytes_per_s"),
        Unit("TB", 1e12, "bytes"),
        Unit("GB", 1e9, "bytes"),
        Unit("GiB", 2.0**30, "bytes"),
        Unit("MB", 1e6, "bytes"),
        Unit("MiB", 2.0**20, "bytes"),
        Unit("MHz", 1e6, "hz"),
        Unit("us", 1e-6, "s"),
        Unit("ns", 1e-9, "s"),
        Unit("W", 1.0, "w"),
        Unit("usd", 1.0, "usd"),
        Unit("usd_per_hour", 1.0 / 3600.0, "usd_per_s"),
        Unit("count", 1.0, "count"),
        Unit("fraction", 1.0, "fraction"),
    )
}


def unit_of(key: str) -> Unit:
    """The unit named by a key's suffix, longest match first (`usd_per_hour` before `usd`)."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if key == suffix or key.endswith("_" + suffix):
            return _UNITS[suffix]
    raise KeyError(f"key {key!r} does not end in a known unit")


def to_si(key: str, value: float) -> float:
    return value * unit_of(key).to_si


def from_si(key: str, value: float) -> float:
    return value / unit_of(key).to_si


# Human-readable helpers for reports and the UI only.
def fmt_flops(flops_per_s: float) -> str:
    return f"{flops_per_s / 1e12:,.1f} TFLOP/s"


def fmt_bytes(n_bytes: float) -> str:
    for scale, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(n_bytes) >= scale:
            return f"{n_bytes / scale:,.2f} {name}"
    return f"{n_bytes:,.0f} B"


def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:,.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:,.3f} ms"
    return f"{seconds * 1e6:,.1f} us"
