"""Power, energy and dollars, for one point or V spec variants at once.

Power follows utilization between idle and TDP. Dollars per hour come from the spec's rent,
or as TCO: the purchase price amortized over `years` at `utilization`, plus energy at a PUE and
a price per kWh. Every assumption is a field of `CostOptions` with its default stated. The
arithmetic runs on (V,) arrays (NaN where a spec lacks what a figure needs); `CostSummary`
is one row of it, with None for NaN.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator.core.variants import Variants

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8766.0  # 365.25 days
J_PER_KWH = 3.6e6


class PricingMode(enum.Enum):
    RENT = "rent"    # the spec's cloud rent
    TCO = "tco"      # owning it: purchase amortized, plus energy

    @classmethod
    def parse(cls, value: PricingMode | str) -> PricingMode:
        if isinstance(value, PricingMode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown pricing {value!r}; use rent or tco") from None


@dataclass(frozen=True)
class CostOptions:
    pricing: PricingMode = PricingMode.RENT
    years: float = 4.0                 # TCO: amortization period
    utilization: float = 0.7           # TCO: share of hours the hardware does paid work
    usd_per_kwh: float = 0.10          # TCO: electricity price
    pue: float = 1.3                   # TCO: facility power per IT power
    idle_fraction_of_tdp: float = 0.2  # NB: used only where a spec has no idle_W

    def __post_init__(self) -> None:
        object.__setattr__(self, "pricing", PricingMode.parse(self.pricing))
        if self.years <= 0 or not 0 < self.utilization <= 1 or self.pue < 1 \
                or self.usd_per_kwh < 0 or not 0 <= self.idle_fraction_of_tdp <= 1:
            raise ValueError("cost options out of range: years > 0, 0 < utilization <= 1, "
                             "pue >= 1, usd_per_kwh >= 0, 0 <= idle_fraction_of_tdp <= 1")


def _factor(variants: Variants | None, name: str) -> np.ndarray | float:
    return 1.0 if variants is None else variants.columns[name]


def power_w(device: DeviceSpec, busy_fraction, options: CostOptions,
            variants: Variants | None = None) -> np.ndarray:
    """Average board power per device: idle plus the busy share of the span up to TDP; NaN
    where the spec publishes no TDP."""
    busy = np.minimum(np.maximum(np.asarray(busy_fraction, dtype=float), 0.0), 1.0)
    if device.tdp_w is None:
        return np.full(busy.shape, np.nan)
    power = _factor(variants, "power")
    tdp = device.tdp_w * power
    idle = device.idle_w * power if device.idle_w is not None \
        else tdp * options.idle_fraction_of_tdp
    return idle + (tdp - idle) * busy


def usd_per_hour(device: DeviceSpec, watts, options: CostOptions,
                 variants: Variants | None = None) -> np.ndarray:
    """Cost of one device-hour; NaN where the spec lacks what it is based on (a rent, or a
    price and a TDP for TCO)."""
    watts = np.asarray(watts, dtype=float)
    price = _factor(variants, "price")
    if options.pricing is PricingMode.RENT:
        if device.rent_usd_per_s is None:
            return np.full(watts.shape, np.nan)
        return np.full(watts.shape, device.rent_usd_per_s * price * SECONDS_PER_HOUR) \
            if variants is None else device.rent_usd_per_s * price * SECONDS_PER_HOUR
    if device.purchase_price_usd is None:
        return np.full(watts.shape, np.nan)
    capital = device.purchase_price_usd * price / (
        options.years * HOURS_PER_YEAR * options.utilization)
    return capital + watts * options.pue * SECONDS_PER_HOUR / J_PER_KWH * options.usd_per_kwh


@dataclass(frozen=True)
class CostColumns:
    """Power, energy and dollars of all `devices` devices over one step, as (V,) arrays."""

    power_w: np.ndarray
    energy_j: np.ndarray
    j_per_token: np.ndarray
    usd_per_hour: np.ndarray
    usd_per_1m_tokens: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return dict(self.__dict__)

    def row(self, i: int = 0) -> CostSummary:
        return CostSummary(*(_none(getattr(self, f)[i]) for f in self.__dataclass_fields__))


def _none(x: float) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class CostSummary:
    power_w: float | None        # all devices together; None without a TDP
    energy_j: float | None
    j_per_token: float | None
    usd_per_hour: float | None   # all devices together
    usd_per_1m_tokens: float | None


def cost_columns(device: DeviceSpec, time_s, busy_s, tokens, options: CostOptions,
                 devices: int = 1, variants: Variants | None = None) -> CostColumns:
    """Energy and cost of a step of `time_s` that produced `tokens` on `devices` devices,
    busy (bound by compute or memory) for `busy_s` of it; each may be an array (one row per
    variant, or several steps side by side)."""
    time_s = np.atleast_1d(np.asarray(time_s, dtype=float))
    busy_s = np.atleast_1d(np.asarray(busy_s, dtype=float))
    ran = time_s > 0
    one = power_w(device, np.where(ran, busy_s / np.where(ran, time_s, 1.0), 0.0), options,
                  variants)
    watts = one * devices
    energy = watts * time_s
    hourly = usd_per_hour(device, one, options, variants) * devices
    tokens = np.asarray(tokens, dtype=float)
    produced = tokens > 0
    per = np.where(produced, tokens, 1.0)
    usd_1m = np.where(produced, hourly / SECONDS_PER_HOUR * time_s / per * 1e6, np.nan)
    jpt = np.where(produced, energy / per, np.nan)
    return CostColumns(power_w=watts, energy_j=energy, j_per_token=jpt, usd_per_hour=hourly,
                       usd_per_1m_tokens=usd_1m)


def summarize(device: DeviceSpec, time_s: float, busy_s: float, tokens: float,
              options: CostOptions, devices: int = 1) -> CostSummary:
    """`cost_columns` of one point."""
    return cost_columns(device, time_s, busy_s, tokens, options, devices).row(0)


def training_run(step_time_s: float, tokens_per_step: float, total_tokens: float,
                 usd_per_hour_all: float | None) -> tuple[float, float | None]:
    """Days and dollars to train on `total_tokens`."""
    seconds = step_time_s * total_tokens / tokens_per_step
    usd = None if usd_per_hour_all is None else usd_per_hour_all * seconds / SECONDS_PER_HOUR
    return seconds / 86400.0, usd
