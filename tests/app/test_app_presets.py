"""Issue 19: every page's main inputs can be preset from the URL (README), a bad value is a
warning naming it, and a decode view's `seq` is its KV-cache length as on the command line."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_pages import presets, state
from tests.app.conftest import ROOT


def _app(page: str | None, monkeypatch, **query) -> AppTest:
    # The pages' heavy calls fail fast: these tests look at the inputs only.
    def stop(*_args, **_kwargs):
        raise ValueError("not computed in this test")

    for name in ("workload", "train_search", "capacity_plan", "serving_run",
                 "published_comparison"):
        monkeypatch.setattr(state, name, stop)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_decode_view_reads_seq_as_its_context(monkeypatch):
    at = _app(None, monkeypatch, model="llama-2-7b", phase="decode", seq="4096",
              devices="h100-sxm,b200", dtype="fp8", kv="fp8", pricing="tco")
    s = at.session_state
    assert s["in_mode"] == "decode" and s["in_context"] == 4096 and s["in_model"] == "llama-2-7b"
    assert (s["in_dtype"], s["in_kv"], s["in_pricing"]) == ("fp8", "fp8", "tco")
    assert s["in_devices"] == ["h100-sxm", "b200"]


@pytest.mark.parametrize("page, query, expected", [
    ("whatif", {"device": "b200", "mem_bw": "2", "metric": "J/token"},
     {"in_wi_device": "b200", "in_wi_mem_bw": 2.0, "in_wi_metric": "J/token"}),
    ("training", {"system": "dgx-b200", "gpus": "16", "seq": "4096", "batch": "128",
                  "objective": "cost", "tokens": "15000"},
     {"in_tr_system": "dgx-b200", "in_tr_gpus": 16, "in_tr_seq": 4096, "in_tr_batch": 128,
      "in_tr_objective": "cost", "in_tr_tokens_b": 15000.0}),
    ("serving", {"hw": "h200-sxm,b200", "tps": "2,4", "qps": "25", "input": "2048",
                 "ttft_ms": "800"},
     {"in_sv_hw": ["h200-sxm", "b200"], "in_sv_tps": [2, 4], "in_sv_qps": 25.0,
      "in_sv_input": "2048", "in_sv_ttft_ms": 800.0}),
    ("explore", {"folder": "/nowhere/results.parquet", "x": "time_s", "log": "false"},
     {"in_ex_folder": "/nowhere/results.parquet", "in_ex_log": False}),
    ("hardware", {"device": "mi300x"}, {"in_hw_device": "mi300x"}),
    ("validation", {"sources": "gpt-fast"}, {"in_va_sources": ["gpt-fast"]}),
])
def test_every_page_takes_its_inputs_from_the_url(monkeypatch, page, query, expected):
    at = _app(page, monkeypatch, **query)
    for key, value in expected.items():
        assert at.session_state[key] == value, key


def test_a_bad_value_is_a_warning_and_the_default_stays(monkeypatch):
    at = _app("training", monkeypatch, gpus="-8", system="no-such-system")
    warnings = [w.value for w in at.warning]
    assert any("URL gpus '-8' is not a whole number" in w for w in warnings)
    assert any("URL system 'no-such-system' is not one of" in w for w in warnings)
    assert at.session_state["in_tr_gpus"] == 8


def test_every_page_has_presets_documented():
    readme = (ROOT / "README.md").read_text()
    for page, table in presets.PAGES.items():
        for p in table():
            assert f"`{p.param}`" in readme, (page, p.param)
