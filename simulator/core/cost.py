"""Power, energy and dollars.

Power follows utilization between idle and TDP. Dollars per hour come from the spec's rent,
or as TCO: the purchase price amortized over `years` at `utilization`, plus energy at a PUE and
a price per kWh. Every assumption is a field of `CostOptions` with its default stated.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.schema import DeviceSpec

_SECONDS_PER_HOUR = 3600.0
_HOURS_PER_YEAR = 8766.0  # 365.25 days
_J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class CostOptions:
    pricing: str = "rent"              # "rent": the spec's cloud rent; "tco": owning it
    years: float = 4.0                 # TCO: amortization period
    utilization: float = 0.7           # TCO: share of hours the hardware does paid work
    usd_per_kwh: float = 0.10          # TCO: electricity price
    pue: float = 1.3                   # TCO: facility power per IT power
    idle_fraction_of_tdp: float = 0.2  # NB: used only where a spec has no idle_W

    def __post_init__(self) -> None:
        if self.pricing not in ("rent", "tco"):
            raise ValueError(f"unknown pricing {self.pricing!r}; use rent or tco")
        if self.years <= 0 or not 0 < self.utilization <= 1 or self.pue < 1 \
                or self.usd_per_kwh < 0 or not 0 <= self.idle_fraction_of_tdp <= 1:
            raise ValueError("cost options out of range: years > 0, 0 < utilization <= 1, "
                             "pue >= 1, usd_per_kwh >= 0, 0 <= idle_fraction_of_tdp <= 1")


def power_w(device: DeviceSpec, busy_fraction: float, options: CostOptions) -> float | None:
    """Average board power: idle plus the busy share of the span up to TDP; None where the
    spec publishes no TDP."""
    if device.tdp_w is None:
        return None
    idle = device.idle_w if device.idle_w is not None \
        else device.tdp_w * options.idle_fraction_of_tdp
    busy = min(max(busy_fraction, 0.0), 1.0)
    return idle + (device.tdp_w - idle) * busy


def usd_per_hour(device: DeviceSpec, avg_power_w: float | None,
                 options: CostOptions) -> float | None:
    """Cost of one device-hour; None where the spec lacks what it is based on (a rent, or a
    price and a TDP for TCO)."""
    if options.pricing == "rent":
        return device.rent_usd_per_hour
    if device.purchase_price_usd is None or avg_power_w is None:
        return None
    capital = device.purchase_price_usd / (options.years * _HOURS_PER_YEAR * options.utilization)
    energy = avg_power_w * options.pue * _SECONDS_PER_HOUR / _J_PER_KWH * options.usd_per_kwh
    return capital + energy


@dataclass(frozen=True)
class CostSummary:
    power_w: float | None        # all devices together; None without a TDP
    energy_j: float | None
    j_per_token: float | None
    usd_per_hour: float | None   # all devices together
    usd_per_1m_tokens: float | None


def summarize(device: DeviceSpec, time_s: float, busy_s: float, tokens: float,
              options: CostOptions, devices: int = 1) -> CostSummary:
    """Energy and cost of one step of `time_s` that produced `tokens` on `devices` devices."""
    one = power_w(device, busy_s / time_s if time_s > 0 else 0.0, options)
    watts = None if one is None else one * devices
    energy = None if watts is None else watts * time_s
    hourly = usd_per_hour(device, one, options)
    hourly_all = None if hourly is None else hourly * devices
    usd_1m = None
    if hourly_all is not None and tokens > 0:
        usd_1m = hourly_all / _SECONDS_PER_HOUR * time_s / tokens * 1e6
    j_per_token = None if energy is None or tokens <= 0 else energy / tokens
    return CostSummary(power_w=watts, energy_j=energy, j_per_token=j_per_token,
                       usd_per_hour=hourly_all, usd_per_1m_tokens=usd_1m)


def training_run(step_time_s: float, tokens_per_step: float, total_tokens: float,
                 usd_per_hour_all: float | None) -> tuple[float, float | None]:
    """Days and dollars to train on `total_tokens`."""
    seconds = step_time_s * total_tokens / tokens_per_step
    usd = None if usd_per_hour_all is None else usd_per_hour_all * seconds / _SECONDS_PER_HOUR
    return seconds / 86400.0, usd
