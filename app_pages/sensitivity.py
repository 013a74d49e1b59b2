"""What-if scaling of one device and the tornado of which spec field matters most.

No cost formulas here: the tornado is one pricing-core call over every factor scaled low and
high (`device_metrics` with `Variants`), read through the shared metric names.
"""

from __future__ import annotations

import math

import pandas as pd

from hwspecs import FACTOR_LABELS, DeviceSpec, ScaleFactors

FIELDS = FACTOR_LABELS   # ScaleFactors field -> what the page calls it
# What the page shows -> the metric name (SI units).
METRICS = {"latency": "time_s", "$/1M tokens": "usd_per_1m_tokens", "J/token": "j_per_token"}
UNITS = {"latency": "s", "$/1M tokens": "USD", "J/token": "J"}
STEPS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)


def scaled(device: DeviceSpec, factors: dict[str, float]) -> DeviceSpec:
    """The device with every factor other than 1 applied."""
    return device.scaled(ScaleFactors.of(factors))


# Why a report can lack a metric: the spec misses what it is computed from.
_NEEDS = {"usd_per_1m_tokens": "a price for this pricing mode (a rent, or a purchase price "
                               "and a TDP)",
          "j_per_token": "a TDP"}


def tornado_frame(workload, device: DeviceSpec, options, metric: str,
                  low: float = 0.5, high: float = 2.0) -> pd.DataFrame:
    """Each field alone scaled by `low` and by `high`: the metric's change in percent,
    sorted so the field that moves it most comes first."""
    from simulator import Variants, device_metrics

    key, unit = METRICS[metric], UNITS[metric]
    stack = Variants.of([ScaleFactors()] + [ScaleFactors.of({f: k}) for f in FIELDS
                                            for k in (low, high)])
    values = getattr(device_metrics(workload, device, options, stack), key)
    if math.isnan(values[0]):
        raise ValueError(f"device {device.name!r} lacks {_NEEDS[key]} in its spec, so this "
                         "metric has no sensitivity; pick another metric")
    base = float(values[0])
    rows = []
    for i, label in enumerate(FIELDS.values()):
        at_low, at_high = float(values[1 + 2 * i]), float(values[2 + 2 * i])
        rows.append({"field": label, f"x{low:g} (%)": 100.0 * (at_low / base - 1.0),
                     f"x{high:g} (%)": 100.0 * (at_high / base - 1.0),
                     f"now ({unit})": base, f"at x{low:g} ({unit})": at_low,
                     f"at x{high:g} ({unit})": at_high})
    frame = pd.DataFrame(rows)
    swing = frame[[f"x{low:g} (%)", f"x{high:g} (%)"]].abs().max(axis=1)
    return frame.loc[swing.sort_values(ascending=False, kind="stable").index] \
        .reset_index(drop=True)
