"""Power, energy and dollars, for one point or V spec variants at once.

Power follows utilization between idle and TDP. Dollars per hour come from the rent (the
spec's, or the user's `usd_per_gpu_hour`), or as TCO: the purchase price (the spec's, or
`purchase_usd_per_gpu`) amortized over `years` at `utilization`, plus energy at a PUE and a
price per kWh. Every assumption is a field of `CostOptions` with its default stated. The
arithmetic runs on (V,) arrays (NaN where a spec lacks what a figure needs); `CostSummary`
is one row of it, with None for NaN.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator.core.variants import Variants

SECONDS_PER_HOUR = 3600.0
HOURS_PER_YEAR = 8766.0  # 365.25 days
J_PER_KWH = 3.6e6


class PricingMode(enum.Enum):
    RENT = "rent"    # a cloud rent: the spec's, or the user's
    TCO = "tco"      # owning it: purchase amortized, plus energy

    @classmethod
    def parse(cls, value: PricingMode | str) -> PricingMode:
        if isinstance(value, PricingMode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown pricing {value!r}; use rent or tco") from None


# Prices per device name, "" for every device not named: (("", 2.5), ("h100-sxm", 2.2)).
Prices = tuple[tuple[str, float], ...]
ALL_DEVICES = ""


def _prices(value: Prices | Mapping[str, float] | float | None, what: str) -> Prices:
    """A price for every device (a number), or per device name (a mapping or pairs)."""
    if value is None:
        return ()
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = {ALL_DEVICES: value}
    pairs = value.items() if isinstance(value, Mapping) else value
    out = {}
    for name, usd in pairs:
        if isinstance(usd, bool) or not isinstance(usd, int | float) \
                or not math.isfinite(usd) or usd <= 0:
            who = "every device" if name == ALL_DEVICES else repr(name)
            raise ValueError(f"{what} for {who} must be a finite number of dollars above 0, "
                             f"not {usd!r}")
        if name in out:
            raise ValueError(f"{what} names {name or 'every device'!r} twice")
        out[str(name)] = float(usd)
    return tuple(sorted(out.items()))


def price_for(prices: Prices, device_name: str) -> float | None:
    """The price `prices` sets for a device: its own, else the one for every device."""
    table = dict(prices)
    return table.get(device_name, table.get(ALL_DEVICES))


@dataclass(frozen=True)
class CostOptions:
    pricing: PricingMode = PricingMode.RENT
    years: float = 4.0                 # TCO: amortization period
    utilization: float = 0.7           # TCO: share of hours the hardware does paid work
    usd_per_kwh: float = 0.10          # TCO: electricity price
    pue: float = 1.3                   # TCO: facility power per IT power
    idle_fraction_of_tdp: float = 0.2  # NB: used only where a spec has no idle_W
    usd_per_gpu_hour: Prices = ()      # RENT: the user's rent, replacing the spec's
    purchase_usd_per_gpu: Prices = ()  # TCO: the user's purchase price, replacing the spec's

    def __post_init__(self) -> None:
        object.__setattr__(self, "pricing", PricingMode.parse(self.pricing))
        object.__setattr__(self, "usd_per_gpu_hour",
                           _prices(self.usd_per_gpu_hour, "the rent per GPU-hour"))
        object.__setattr__(self, "purchase_usd_per_gpu",
                           _prices(self.purchase_usd_per_gpu, "the purchase price per GPU"))
        if self.years <= 0 or not 0 < self.utilization <= 1 or self.pue < 1 \
                or self.usd_per_kwh < 0 or not 0 <= self.idle_fraction_of_tdp <= 1:
            raise ValueError("cost options out of range: years > 0, 0 < utilization <= 1, "
                             "pue >= 1, usd_per_kwh >= 0, 0 <= idle_fraction_of_tdp <= 1")

    def rent_usd_per_s(self, device: DeviceSpec) -> float | None:
        """A device's rent per second: the user's for it, else the spec's (None: neither)."""
        mine = price_for(self.usd_per_gpu_hour, device.name)
        return device.rent_usd_per_s if mine is None else mine / SECONDS_PER_HOUR

    def purchase_usd(self, device: DeviceSpec) -> float | None:
        """A device's purchase price: the user's for it, else the spec's (None: neither)."""
        mine = price_for(self.purchase_usd_per_gpu, device.name)
        return device.purchase_price_usd if mine is None else mine

    def price_source(self, device: DeviceSpec) -> str:
        """Where the dollars for `device` come from, in words."""
        if self.pricing is PricingMode.RENT:
            if price_for(self.usd_per_gpu_hour, device.name) is not None:
                return "rent given by the user (--usd-per-gpu-hour)"
            cited = device.sources.get("price.rent_usd_per_hour")
            return f"the spec's rent: {cited}" if cited else "no rent in the spec"
        given = price_for(self.purchase_usd_per_gpu, device.name) is not None
        return (f"TCO: purchase {'given by the user' if given else 'from the spec'} over "
                f"{self.years:g} years at {self.utilization:.0%} utilization, "
                f"${self.usd_per_kwh:g}/kWh, PUE {self.pue:g}")


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
        rent = options.rent_usd_per_s(device)
        if rent is None:
            return np.full(watts.shape, np.nan)
        return np.full(watts.shape, rent * price * SECONDS_PER_HOUR) \
            if variants is None else rent * price * SECONDS_PER_HOUR
    purchase = options.purchase_usd(device)
    if purchase is None:
        return np.full(watts.shape, np.nan)
    capital = purchase * price / (
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
