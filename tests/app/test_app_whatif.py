"""What-if page: scaled-device numbers and the tornado equal the simulator's."""

from __future__ import annotations

import pytest

from hwspecs import load_device
from tests.app import expected
from tests.app.conftest import SEQ


def _whatif(make_app, **inputs):
    at = make_app(run=False, **inputs)
    at.run()
    at.switch_page("app_pages/whatif.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at, title_fragment: str):
    """The dataframe whose CSV button follows it; the page shows change, then sensitivity."""
    frames = [d.value for d in at.dataframe]
    return next(f for f in frames if title_fragment in " ".join(f.columns))


def test_sliders_price_the_scaled_device(make_app, small_model):
    at = _whatif(make_app, mode="decode", wi_device="h100-sxm")
    at.select_slider(key="in_wi_mem_bw").set_value(2.0)
    at.select_slider(key="in_wi_price").set_value(0.5)
    at.run()
    assert not at.exception
    step = expected.steps("decode", 1, SEQ, SEQ)[0]
    base_dev = load_device("h100-sxm")
    base = expected.report(small_model, step, base_dev, expected.options())
    new = expected.report(small_model, step, base_dev.scaled(mem_bw=2.0, price=0.5),
                          expected.options())
    change = _table(at, "what-if").set_index("metric")
    assert change.loc["latency (ms)", "baseline"] == pytest.approx(base.time_s * 1e3, rel=1e-12)
    assert change.loc["latency (ms)", "what-if"] == pytest.approx(new.time_s * 1e3, rel=1e-12)
    assert change.loc["$/1M tokens", "what-if"] == pytest.approx(new.cost.usd_per_1m_tokens,
                                                                 rel=1e-12)
    assert new.time_s < base.time_s        # decode is memory-bound: faster memory helps
    shown = at.metric[0]
    assert shown.value == f"{new.time_s * 1e3:,.3f} ms"
    assert shown.delta == f"{100 * (new.time_s / base.time_s - 1):+.1f}%"
    at.button(key="wi_reset").click().run()
    assert at.select_slider(key="in_wi_mem_bw").value == 1.0
    assert at.metric[0].value == f"{base.time_s * 1e3:,.3f} ms" and not at.metric[0].delta


def test_tornado_equals_each_field_scaled_alone(make_app, small_model):
    at = _whatif(make_app, mode="prefill", wi_device="mi300x")
    at.radio(key="in_wi_metric").set_value("J/token")
    at.run()
    assert not at.exception
    frame = _table(at, "x0.5 (%)").set_index("field")
    step = ("prefill", 1, SEQ, 0)
    dev = load_device("mi300x")
    base = expected.report(small_model, step, dev, expected.options()).cost.j_per_token
    names = {"matrix": "matrix FLOP/s", "vector": "vector FLOP/s", "mem_bw": "memory bandwidth",
             "mem_capacity": "memory capacity", "link": "link bandwidth", "price": "price",
             "power": "power"}
    for factor, label in names.items():
        for k, column in ((0.5, "x0.5 (%)"), (2.0, "x2 (%)")):
            r = expected.report(small_model, step, dev.scaled(**{factor: k}), expected.options())
            assert frame.loc[label, column] == pytest.approx(
                100 * (r.cost.j_per_token / base - 1), rel=1e-9, abs=1e-9)
    swings = frame[["x0.5 (%)", "x2 (%)"]].abs().max(axis=1)
    assert list(swings) == sorted(swings, reverse=True)
    assert frame.loc["link bandwidth", "x2 (%)"] == 0.0      # one device: no links used
    assert frame.loc["power", "x2 (%)"] > 0.0                # J/token follows the power


def test_missing_price_is_a_message(make_app):
    at = _whatif(make_app, mode="prefill", wi_device="a100-sxm-40gb")
    at.radio(key="in_wi_metric").set_value("$/1M tokens")
    at.run()
    assert not at.exception
    assert any("'a100-sxm-40gb' lacks a price" in e.value for e in at.error)


def test_tornado_exports_as_png(small_model):
    from app_pages import png, sensitivity
    from workloads import get_workload

    wl = get_workload(small_model, "decode", batch=1, seq=1, context=SEQ)
    frame = sensitivity.tornado_frame(wl, load_device("b200"), expected.options(), "latency")
    data = png.tornado_png(frame, "latency")
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
