"""A finished sweep at other rents: every dollar column of a rent-priced sweep is proportional
to each device's rent (hourly = rent x price factor x GPUs; per token = hourly x time / tokens),
so new rents rescale its rows exactly, without pricing a kernel again.
"""

from __future__ import annotations

import json
from pathlib import Path

from simulator.core.cost import PricingMode, price_for

USD_COLUMNS = ("usd_per_hour", "usd_per_1m_tokens", "usd_per_1m_output_tokens",
               "usd_per_1m_input_tokens")


def sweep_rents(folder: str | Path) -> tuple[str, dict[str, float | None]]:
    """(pricing mode, the rent per GPU-hour each device of the sweep was priced at; None where
    it had none), from the results folder's grid."""
    from hwspecs.registry import load_device

    grid = json.loads((Path(folder) / "_sweep.json").read_text())
    given = tuple(tuple(x) for x in grid.get("usd_per_gpu_hour", ()))
    rents = {}
    for ref in grid["devices"]:
        d = load_device(ref)
        mine = price_for(given, d.name)
        rents[d.name] = mine if mine is not None else d.rent_usd_per_hour
    return grid.get("pricing", "rent"), rents


def reprice(frame, folder: str | Path, rents: dict[str, float]):
    """`frame` (the sweep in `folder`) with each named device's dollars at its new rent per
    GPU-hour. A sweep priced as TCO, or a device it had no rent for, cannot be rescaled: it is
    refused naming why (run the sweep again with `usd_per_gpu_hour` in the grid)."""
    pricing, old = sweep_rents(folder)
    if not rents:
        return frame
    if PricingMode.parse(pricing) is not PricingMode.RENT:
        raise ValueError(f"{folder} was priced as {pricing}, not by rent: set usd_per_gpu_hour "
                         "in its grid and run it again")
    out = frame.copy()
    for name, usd in rents.items():
        if name not in old:
            continue
        if old[name] is None:
            raise ValueError(f"{folder}: {name} had no rent when the sweep ran, so its dollars "
                             f"are missing; run it again with usd_per_gpu_hour: {{{name}: "
                             f"{usd:g}}} in the grid")
        rows = out["device"] == name
        for col in USD_COLUMNS:
            if col in out.columns:
                out.loc[rows, col] = out.loc[rows, col] * (usd / old[name])
    return out
