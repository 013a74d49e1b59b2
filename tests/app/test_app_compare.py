"""Compare page: the shown numbers are the simulator's for the same inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app_pages import scenario
from archsim_cli.roofline_plot import achieved_points
from hwspecs import device_names
from tests.app import expected
from tests.app.conftest import SEQ, SMALL_CONFIG
from workloads import catalog_names


def _rows(at, index: int = 0) -> list[dict]:
    return at.dataframe[index].value.to_dict("records")


def test_opens_on_the_documented_default(make_app):
    at = make_app(run=False)
    for key in ("model_source", "model_path", "seq", "context", "devices"):
        del at.session_state[f"in_{key}"]
    # Only the defaults are checked here; tracing Llama-3.1-8B is left to the browser test.
    at.session_state["in_model_source"] = "Hub id or path"
    at.run()
    assert at.session_state["in_model"] == "llama-3.1-8b" in catalog_names()
    assert at.session_state["in_mode"] == "prefill + decode"
    assert at.session_state["in_seq"] == 2048
    assert at.session_state["in_devices"] == ["h100-sxm", "h200-sxm", "b200", "mi300x"]
    assert set(scenario.DEFAULT_DEVICES) <= set(device_names())
    assert at.info and "Choose a model" in at.info[0].value


def test_url_presets_the_inputs(small_model):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(model=small_model, phase="prefill", seq="64", batch="two",
                           devices="b200,no-such-gpu")
    at.run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert "URL batch 'two' is not a positive whole number; using the default." in warnings
    assert "URL devices not known here: no-such-gpu." in warnings
    rows = _rows(at)
    assert [(r["device"], r["phase"]) for r in rows] == [("b200", "prefill")]
    expected.assert_kpi_row(rows[0], expected.report(small_model, ("prefill", 1, 64, 0), "b200",
                                                     expected.options()))


def test_kpi_table_equals_the_api(make_app, small_model):
    at = make_app()
    rows = _rows(at)
    steps = expected.steps("prefill + decode", 1, SEQ)
    assert [(r["phase"], r["device"]) for r in rows] == [
        (s[0], d) for s in steps for d in ("h100-sxm", "mi300x")]
    for row in rows:
        step = next(s for s in steps if s[0] == row["phase"])
        expected.assert_kpi_row(row, expected.report(small_model, step, row["device"],
                                                     expected.options()))
    assert [b.label for b in at.get("download_button")].count("Download CSV") == 3


def test_changed_inputs_change_the_numbers(make_app, small_model):
    at = make_app()
    before = _rows(at)
    at.number_input(key="in_batch").set_value(4)
    at.selectbox(key="in_dtype").set_value("fp8")
    at.selectbox(key="in_kv").set_value("fp8")
    at.multiselect(key="in_devices").set_value(["h100-sxm", "b200", "mi300x"])
    at.radio(key="in_pricing").set_value("tco")
    at.run()
    assert not at.exception
    rows = _rows(at)
    assert len(rows) == 6 and rows[0]["latency (ms)"] != before[0]["latency (ms)"]
    opts = expected.options("fp8", kv="fp8", pricing="tco")
    steps = expected.steps("prefill + decode", 4, SEQ)
    for row in rows:
        step = next(s for s in steps if s[0] == row["phase"])
        expected.assert_kpi_row(row, expected.report(small_model, step, row["device"], opts))


def test_lowering_passes_switched_off_are_priced(make_app, small_model):
    at = make_app(mode="prefill", devices=["b200"])
    fused = _rows(at)[0]["latency (ms)"]
    at.multiselect(key="in_passes_off").set_value(["flash_attention", "fuse_elementwise"])
    at.run()
    assert not at.exception
    row = _rows(at)[0]
    off = ("flash_attention", "fuse_elementwise")
    expected.assert_kpi_row(row, expected.report(small_model, ("prefill", 1, SEQ, 0), "b200",
                                                 expected.options(), passes_off=off))
    assert row["latency (ms)"] > fused
    assert "lowering passes off: flash_attention, fuse_elementwise" in at.caption[0].value


def test_kernel_kinds_memory_and_roofline_equal_the_api(make_app, small_model):
    at = make_app(mode="prefill", devices=["h100-sxm"])
    r = expected.report(small_model, ("prefill", 1, SEQ, 0), "h100-sxm", expected.options())
    kinds = at.dataframe[1].value.set_index("kind")
    by_kind = r.by_kind()
    assert list(kinds.index) == list(by_kind.index)
    np.testing.assert_allclose(kinds["time (ms)"], by_kind["time_s"] * 1e3, rtol=1e-12)
    memory = at.dataframe[2].value.set_index("part")["GB"]
    fp = r.footprint
    assert memory["weights"] == pytest.approx(fp.weights_bytes / 1e9, rel=1e-12)
    assert memory["KV cache"] == pytest.approx(fp.kv_cache_bytes / 1e9, rel=1e-12)
    assert memory.sum() == pytest.approx(fp.total_bytes / 1e9, rel=1e-12)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    roofline = charts[1]
    points = [t for t in roofline["data"] if t.get("mode") == "markers" and t["name"] == "h100-sxm"]
    intensity, achieved, kinds = achieved_points(r)
    distinct = np.unique(np.column_stack([intensity, achieved, kinds]), axis=0)
    assert len(distinct) < len(intensity)           # each distinct point drawn once
    np.testing.assert_allclose(expected.plotly_array(points[0]["x"]), distinct[:, 0], rtol=1e-12)
    np.testing.assert_allclose(expected.plotly_array(points[0]["y"]), distinct[:, 1], rtol=1e-12)
    assert roofline["layout"]["xaxis"]["type"] == roofline["layout"]["yaxis"]["type"] == "log"


def test_unknown_model_is_a_message_not_a_traceback(make_app):
    at = make_app(model_path="no-such-model-anywhere")
    assert not at.exception
    assert "unknown model 'no-such-model-anywhere'" in at.error[0].value
    assert not at.dataframe and not at.get("progress")     # no tracing bar left behind


def test_uploaded_config_json_is_traced(make_app):
    at = make_app(model_source="Upload config.json")
    assert at.info and not at.dataframe        # nothing uploaded yet
    at.get("file_uploader")[0].upload("config.json", json.dumps(SMALL_CONFIG).encode(),
                                      "application/json")
    at.run()
    assert not at.exception and not at.error
    assert "small-llama" in at.caption[0].value
    assert len(_rows(at)) == 4


def test_bad_config_upload_is_one_line(make_app):
    at = make_app(model_source="Upload config.json")
    at.get("file_uploader")[0].upload("config.json", b"{not json", "application/json")
    at.run()
    assert not at.exception
    assert "config.json is not valid JSON" in at.error[0].value


def test_device_without_the_precision_is_an_error_line_and_others_still_show(make_app):
    at = make_app(mode="prefill", dtype="fp8", devices=["a100-sxm-80gb", "h100-sxm"])
    assert not at.exception
    assert any("a100-sxm-80gb" in e.value and "fp8" in e.value for e in at.error)
    assert [r["device"] for r in _rows(at)] == ["h100-sxm"]


def test_charts_export_as_png(small_model):
    from app_pages import png, tables
    from app_pages.scenario import Priced, Step
    from hwspecs import load_device

    step = Step("prefill", 1, SEQ, 0)
    priced = [Priced(step, load_device(d), expected.report(small_model, ("prefill", 1, SEQ, 0),
                                                           d, expected.options()))
              for d in ("h100-sxm", "mi300x")]
    for data in (png.stacked_bars_png(tables.kind_frame(priced), "time (ms)", "kind", "time"),
                 png.stacked_bars_png(tables.memory_frame(priced), "GB", "part", "memory"),
                 png.roofline_png(priced, "prefill")):
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
