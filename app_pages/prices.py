"""A price field per device, on every page that ranks devices or plans by dollars.

Each field starts at the spec's rent (its cloud and date in the help) and hands the pages the
prices the user changed, as `simulator.CostOptions.usd_per_gpu_hour` takes them: the CLI's
`--usd-per-gpu-hour DEVICE=USD`.
"""

from __future__ import annotations

import streamlit as st

from app_pages import state
from hwspecs.schema import RENT_BASIS

Prices = tuple[tuple[str, float], ...]


def _device(name: str):
    """A device by name, or a system's device (systems price their devices' GPU-hours)."""
    if name in state.device_choices():
        return state.get_device(name)
    from hwspecs.registry import load_system

    return load_system(name).device


def rent_fields(names: list[str], key: str, where=None,
                start: dict[str, float | None] | None = None) -> Prices:
    """One $/GPU-hour field per device (`names`: devices or systems; drawn in `where`, the
    sidebar by default), starting at `start`'s rent for it or else its spec's; the (device,
    price) pairs that differ from where they started."""
    where = where or st.sidebar
    with state.user_errors():
        devices = {d.name: d for d in map(_device, names)}
    if not devices:
        return ()
    out = []
    with where.expander("Prices ($ per GPU-hour)"):
        st.caption(f"Start at each spec's rent: {RENT_BASIS}. Change one to price at your "
                   "own rate (the CLI's --usd-per-gpu-hour DEVICE=USD).")
        for name, d in devices.items():
            spec = (start or {}).get(name, d.rent_usd_per_hour)
            k = f"{key}_{name}"
            state.default(k, float(spec or 0.0))
            seen = d.sources.get("price.rent_usd_per_hour", "")
            usd = st.number_input(
                f"{name}", min_value=0.0, max_value=1000.0, step=0.05, format="%.3f", key=k,
                help=(f"spec: ${d.rent_usd_per_hour:.3f}/h, {d.rent_provider} on-demand "
                      f"list; {seen}" if d.rent_usd_per_hour is not None else
                      "the spec has no rent (no cloud lists it): 0 leaves it unpriced"))
            if usd > 0 and (spec is None or abs(usd - spec) > 1e-9):
                out.append((name, float(usd)))
    return tuple(sorted(out))


def caption(prices: Prices) -> str:
    """Which rents the user set, in words ('' when none)."""
    if not prices:
        return ""
    return "; rents set here: " + ", ".join(f"{n} ${u:,.2f}/h" for n, u in prices)
