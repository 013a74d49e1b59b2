"""The price field per device: each starts at the spec's rent, and a changed one reprices
that device's dollars (and only its dollars) on the Compare page."""

from __future__ import annotations

import pytest

from hwspecs.registry import load_device
from tests.app import test_app_explore

sweep_folder = test_app_explore.sweep_folder


def _by_device(at) -> dict[str, dict]:
    return {r["device"]: r for r in at.dataframe[0].value.to_dict("records")
            if r["phase"] == "prefill"}


def test_compare_prices_each_device_at_the_rent_in_its_field(make_app):
    at = make_app(mode="prefill")
    fields = {n.label: n for n in at.number_input if n.key.startswith("in_rent_")}
    assert set(fields) == {"h100-sxm", "mi300x"}
    assert fields["h100-sxm"].value == pytest.approx(load_device("h100-sxm").rent_usd_per_hour)
    before = _by_device(at)
    at.session_state["in_rent_h100-sxm"] = 2 * load_device("h100-sxm").rent_usd_per_hour
    at.run()
    assert not at.exception
    after = _by_device(at)
    h100, mi = after["h100-sxm"], after["mi300x"]
    assert h100["$/1M tokens"] == pytest.approx(2 * before["h100-sxm"]["$/1M tokens"])
    assert h100["latency (ms)"] == before["h100-sxm"]["latency (ms)"]
    assert mi["$/1M tokens"] == before["mi300x"]["$/1M tokens"]
    assert any("rents set here: h100-sxm" in c.value for c in at.caption)


def test_training_costs_follow_the_rent_field(make_app):
    from tests.app.test_app_training import _training

    at = _training(make_app)
    field = at.number_input(key="in_tr_rent_h100-sxm")
    rent = load_device("h100-sxm").rent_usd_per_hour
    assert field.value == pytest.approx(rent)
    before = at.dataframe[0].value
    field.set_value(rent / 2).run()
    assert not at.exception
    after = at.dataframe[0].value
    assert list(after["plan"]) == list(before["plan"])                # throughput ranking
    assert list(after["cost to train ($)"]) == pytest.approx(list(before["cost to train ($)"] / 2))
    assert list(after["step time (s)"]) == list(before["step time (s)"])


def test_serving_has_a_price_field_per_device_and_the_precision_axes(make_app):
    # No TP degree chosen: the page draws its inputs and plans nothing (the plans themselves
    # are test_app_serving's).
    at = make_app(run=False, sv_hw=["dgx-h100", "mi300x"], sv_tps=[], sv_dtypes=["fp8"],
                  sv_kvs=["auto", "fp8"])
    at.run()
    at.switch_page("app_pages/serving.py").run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {n.label for n in at.number_input if n.key.startswith("in_sv_rent_")}
    assert labels == {"h100-sxm", "mi300x"}                     # a system names its device
    assert at.multiselect(key="in_sv_kvs").value == ["auto", "fp8"]
    assert at.multiselect(key="in_sv_weights").value == ["same"]


def test_explore_reprices_the_sweep_at_the_rent_in_its_field(make_app, sweep_folder):
    at = test_app_explore._explore(make_app, ex_folder=sweep_folder)
    rent = load_device("mi300x").rent_usd_per_hour
    assert at.number_input(key="in_ex_rent_mi300x").value == pytest.approx(rent)
    before = at.dataframe[0].value
    at.number_input(key="in_ex_rent_mi300x").set_value(3 * rent).run()
    assert not at.exception
    after = at.dataframe[0].value
    mi, h100 = after["device"] == "mi300x", after["device"] == "h100-sxm"
    assert list(after.loc[mi, "usd_per_1m_tokens"]) == pytest.approx(
        list(3 * before.loc[mi, "usd_per_1m_tokens"]))
    assert list(after.loc[h100, "usd_per_1m_tokens"]) == list(before.loc[h100, "usd_per_1m_tokens"])
    assert list(after["time_s"]) == list(before["time_s"])


def test_hardware_says_whose_list_each_rent_is(make_app):
    at = make_app(run=False)
    at.run()
    at.switch_page("app_pages/hardware.py").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("name")
    assert table.loc["h100-sxm", "rent from"] == "CoreWeave"
    assert table.loc["mi300x", "rent from"] == "TensorWave"
    assert "no cloud" in table.loc["gaudi3", "rent from"]
