"""A grid's `usd_per_gpu_hour` prices its points at the user's rent: dollars scale with it,
times do not; a bad price is refused naming the grid."""

from __future__ import annotations

import pytest

from hwspecs.registry import load_device
from simulator.sweep.grid import load_grid
from simulator.sweep.run import run_sweep
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model

GRID = """
models: [{model}]
phases: [prefill]
seq: [64]
devices: [h100-sxm, mi300x]
"""


def _rows(tmp_path, model, extra: str, name: str, index: bool = True):
    path = tmp_path / f"{name}.yaml"
    path.write_text(GRID.format(model=model) + extra)
    frame = run_sweep(load_grid(path), tmp_path / f"{name}.parquet", workers=1,
                      progress=False).frame
    return frame.set_index("device") if index else frame


def test_grid_rent_scales_dollars_only(tmp_path, tiny_model):
    base = _rows(tmp_path, tiny_model, "", "base")
    new = _rows(tmp_path, tiny_model, "usd_per_gpu_hour: {h100-sxm: 2.0}\n", "rent")
    factor = 2.0 / load_device("h100-sxm").rent_usd_per_hour
    assert new.loc["h100-sxm", "usd_per_1m_tokens"] == pytest.approx(
        factor * base.loc["h100-sxm", "usd_per_1m_tokens"])
    assert new.loc["h100-sxm", "time_s"] == base.loc["h100-sxm", "time_s"]
    assert new.loc["mi300x", "usd_per_1m_tokens"] == base.loc["mi300x", "usd_per_1m_tokens"]


def test_a_bad_grid_price_names_the_grid(tmp_path, tiny_model):
    path = tmp_path / "bad.yaml"
    path.write_text(GRID.format(model=tiny_model) + "usd_per_gpu_hour: {h100-sxm: -1}\n")
    with pytest.raises(ValueError, match=r"bad\.yaml.*h100-sxm.*above 0"):
        load_grid(path)


def test_repricing_a_finished_sweep_equals_running_it_at_that_rent(tmp_path, tiny_model):
    from simulator import reprice, sweep_rents

    base = _rows(tmp_path, tiny_model, "variants: {price: [1, 2]}\n", "b", index=False)
    again = _rows(tmp_path, tiny_model, "variants: {price: [1, 2]}\n"
                  "usd_per_gpu_hour: {mi300x: 4.0}\n", "r", index=False)
    pricing, used = sweep_rents(tmp_path / "b.parquet")
    assert pricing == "rent" and used["mi300x"] == load_device("mi300x").rent_usd_per_hour
    assert sweep_rents(tmp_path / "r.parquet")[1]["mi300x"] == 4.0
    shown = reprice(base, tmp_path / "b.parquet", {"mi300x": 4.0})
    for col in ("usd_per_hour", "usd_per_1m_tokens", "time_s"):
        assert list(shown[col]) == pytest.approx(list(again[col]), rel=1e-12), col
