"""Explore page: filters, the Pareto front and a point's row equal the sweep results' own."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.sweep.grid import grid_from_dict
from simulator.sweep.run import run_sweep
from simulator.sweep.summary import AXES, pareto_front
from tests.app.conftest import SEQ


@pytest.fixture(scope="module")
def sweep_folder(small_model, tmp_path_factory) -> str:
    grid = grid_from_dict({"models": [small_model], "phases": ["decode"], "batch": [1, 4],
                           "context": [SEQ], "devices": ["h100-sxm", "mi300x"],
                           "variants": {"mem_bw": [0.5, 1, 2]}})
    out = tmp_path_factory.mktemp("sweep") / "results"
    run_sweep(grid, out, workers=1, progress=False)
    return str(out)


def _explore(make_app, **inputs):
    at = make_app(run=False, **inputs)
    at.run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_filter_front_and_point_equal_the_results(make_app, sweep_folder):
    at = _explore(make_app, ex_folder=sweep_folder)
    frame = pd.read_parquet(sweep_folder)
    points = at.dataframe[0].value
    assert len(points) == len(frame) == 2 * 2 * 3
    at.multiselect(key="in_ex_f_device").set_value(["mi300x"])
    at.run()
    assert not at.exception
    part = frame[frame["device"] == "mi300x"]
    points = at.dataframe[0].value
    assert sorted(points["time_s"]) == sorted(part["time_s"])
    front = pareto_front(part)
    on = points[points["front"].str.startswith("Pareto")]
    assert sorted(on["time_s"]) == sorted(front["time_s"])
    assert f"{len(front)} on the Pareto front" in at.caption[0].value

    assert at.selectbox(key="in_ex_point").value == part.index[0]
    at.selectbox(key="in_ex_point").set_value(int(part.index[-1])).run()
    assert not at.exception
    row = at.dataframe[1].value.set_index("field")["value"]
    want = frame.loc[part.index[-1]]
    for field in [*AXES, "time_s", "usd_per_1m_tokens"]:
        assert row[field] == str(want[field])


def test_not_a_results_folder_is_a_message(make_app, tmp_path):
    at = _explore(make_app, ex_folder=str(tmp_path))
    assert len(at.error) == 1 and "not a sweep results folder" in at.error[0].value
    assert not at.dataframe


def test_the_plan_is_a_filter(make_app, small_model, tmp_path):
    grid = grid_from_dict({"models": [small_model], "phases": ["decode"], "batch": [2],
                           "context": [SEQ], "devices": ["h100-sxm"],
                           "plans": [{}, {"tp": 2}, {"tp": 2, "dp": 2}],
                           "variants": {"link": [0.5, 1]}})
    out = tmp_path / "plans"
    run_sweep(grid, out, workers=1, progress=False)
    frame = pd.read_parquet(out)
    at = _explore(make_app, ex_folder=str(out))
    plans = at.multiselect(key="in_ex_f_plan")
    assert sorted(plans.options) == ["tp1 pp1 dp1", "tp2 pp1 dp1", "tp2 pp1 dp2"]
    plans.set_value(["tp2 pp1 dp2"])
    at.run()
    assert not at.exception
    part = frame[frame["plan"] == "tp2 pp1 dp2"]
    points = at.dataframe[0].value
    assert sorted(points["time_s"]) == sorted(part["time_s"]) and (points["gpus"] == 4).all()
    on = points[points["front"].str.startswith("Pareto")]
    assert len(on) >= 1 and sorted(on["time_s"]) == sorted(pareto_front(part)["time_s"])
