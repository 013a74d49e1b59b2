"""What-if scaling of one device and the tornado of which spec field matters most.

No cost formulas here: each point is a `simulate` call on `DeviceSpec.scaled(...)`, and the
tornado reads the report's own summary keys.
"""

from __future__ import annotations

import pandas as pd

from hwspecs.schema import DeviceSpec

# DeviceSpec.scaled factor name -> what the page calls it.
FIELDS = {
    "matrix": "matrix FLOP/s",
    "vector": "vector FLOP/s",
    "mem_bw": "memory bandwidth",
    "mem_capacity": "memory capacity",
    "link": "link bandwidth",
    "price": "price",
    "power": "power",
}
# What the page shows -> the report summary key (SI units).
METRICS = {"latency": "time_s", "$/1M tokens": "usd_per_1m_tokens", "J/token": "j_per_token"}
UNITS = {"latency": "s", "$/1M tokens": "USD", "J/token": "J"}
STEPS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)


def scaled(device: DeviceSpec, factors: dict[str, float]) -> DeviceSpec:
    """The device with every factor other than 1 applied."""
    changed = {k: float(v) for k, v in factors.items() if float(v) != 1.0}
    return device.scaled(**changed) if changed else device


# Why a report can lack a metric: the spec misses what it is computed from.
_NEEDS = {"usd_per_1m_tokens": "a price for this pricing mode (a rent, or a purchase price "
                               "and a TDP)",
          "j_per_token": "a TDP"}


def _metric(workload, device: DeviceSpec, options, key: str) -> float:
    from simulator import simulate

    value = simulate(workload, device, options).summary()[key]
    if value is None:
        raise ValueError(f"device {device.name!r} lacks {_NEEDS[key]} in its spec, so this "
                         "metric has no sensitivity; pick another metric")
    return float(value)


def tornado_frame(workload, device: DeviceSpec, options, metric: str,
                  low: float = 0.5, high: float = 2.0) -> pd.DataFrame:
    """Each field alone scaled by `low` and by `high`: the metric's change in percent,
    sorted so the field that moves it most comes first."""
    key, unit = METRICS[metric], UNITS[metric]
    base = _metric(workload, device, options, key)
    rows = []
    for factor_name, label in FIELDS.items():
        at_low = _metric(workload, device.scaled(**{factor_name: low}), options, key)
        at_high = _metric(workload, device.scaled(**{factor_name: high}), options, key)
        rows.append({"field": label, f"x{low:g} (%)": 100.0 * (at_low / base - 1.0),
                     f"x{high:g} (%)": 100.0 * (at_high / base - 1.0),
                     f"now ({unit})": base, f"at x{low:g} ({unit})": at_low,
                     f"at x{high:g} ({unit})": at_high})
    frame = pd.DataFrame(rows)
    swing = frame[[f"x{low:g} (%)", f"x{high:g} (%)"]].abs().max(axis=1)
    return frame.loc[swing.sort_values(ascending=False, kind="stable").index] \
        .reset_index(drop=True)
