"""What the public API returns for the inputs a test gives the app, computed without the app."""

from __future__ import annotations

import base64

import numpy as np

from hwspecs import load_device
from simulator.core.cost import CostOptions
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.simulate import simulate
from workloads import get_workload


def steps(mode: str, batch: int, seq: int, context: int = 0) -> list[tuple[str, int, int, int]]:
    """(phase, batch, seq, context) of each traced step; decode after a prompt reads it back."""
    if mode == "prefill + decode":
        return [("prefill", batch, seq, 0), ("decode", batch, 1, seq)]
    if mode == "decode":
        return [("decode", batch, 1, context)]
    return [(mode, batch, seq, 0)]


def options(dtype: str = "bf16", weights: str | None = None, kv: str | None = None,
            pricing: str = "rent") -> Options:
    return Options(precision=Precision.parse(dtype, weights=weights, kv=kv),
                      cost=CostOptions(pricing=pricing))


def report(model: str, step: tuple[str, int, int, int], device, opts: Options,
           passes_off: tuple[str, ...] = ()):
    phase, batch, seq, context = step
    wl = get_workload(model, phase, batch=batch, seq=seq, context=context,
                      disabled_passes=passes_off)
    dev = load_device(device) if isinstance(device, str) else device
    return simulate(wl, dev, opts)


def assert_kpi_row(row: dict, r) -> None:
    """One shown KPI row against its report, in the units the column header names."""
    assert row["device"] == r.device and row["phase"] == r.phase.value
    assert row["latency (ms)"] == approx(r.time_s * 1e3)
    assert row["tokens/s"] == approx(r.tokens_per_s)
    assert row["memory (GB)"] == approx(r.footprint.total_bytes / 1e9)
    assert row["capacity (GB)"] == approx(r.footprint.capacity_bytes / 1e9)
    assert row["fits"].startswith("yes" if r.footprint.feasible else "no")
    assert_same(row["J/token"], r.cost.j_per_token)
    assert_same(row["$/1M tokens"], r.cost.usd_per_1m_tokens)
    assert row["bound"] == r.bound
    if r.max_batch is not None:
        assert row["max batch"] == r.max_batch


def assert_same(shown, value: float | None) -> None:
    """A shown number equals the API's; a missing one (None) shows as empty."""
    if value is None:
        assert shown is None or np.isnan(shown)
    else:
        assert shown == approx(value)


def approx(x: float):
    import pytest

    return pytest.approx(x, rel=1e-12, abs=0.0)


def plotly_array(value) -> np.ndarray:
    """A plotly trace's x or y: a list, or plotly's base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return np.asarray(value, dtype=float)
