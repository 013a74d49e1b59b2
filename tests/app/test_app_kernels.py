"""The kernels switch (`app_pages.kernels`): one session value every pricing page reads, the
measured backend reaching the simulator's calls, and the measured share where a page shows
one result."""

from __future__ import annotations

import pytest

from app_pages import state
from archsim_cli.measured_share import share_line
from hwspecs import load_device
from simulator import KernelSource, measured_share, simulate, workload_kernel_check
from tests.app import expected
from tests.app.conftest import SEQ
from workloads import get_workload


def _page(make_app, page: str, **inputs):
    at = make_app(run=False, **inputs)
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _measured():
    from dataclasses import replace

    return replace(expected.options(), kernels=KernelSource.MEASURED)


def _captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_compare_prices_a_covered_device_from_the_measurements(make_app, small_model):
    at = _page(make_app, "compare", mode="prefill", kernels="measured")
    assert at.radio(key="in_kernels").value == "measured"
    wl = get_workload(small_model, "prefill", batch=1, seq=SEQ)
    h100 = load_device("h100-sxm")
    want = simulate(wl, h100, _measured())
    model = simulate(wl, h100, expected.options())
    kpis = at.dataframe[0].value.set_index("device")
    assert kpis.loc["h100-sxm", "latency (ms)"] == expected.approx(want.time_s * 1e3)
    assert want.time_s != pytest.approx(model.time_s, rel=1e-4)
    share = measured_share(workload_kernel_check(wl, h100, _measured()))["measured_share"]
    text = _captions(at)
    assert f"**h100-sxm** prefill {share:.1%} of the time" in text
    assert "**mi300x** prefill 0.0% of the time" in text    # nothing measured: the model


def test_the_model_switch_shows_no_share(make_app):
    at = _page(make_app, "compare", mode="prefill")
    assert at.radio(key="in_kernels").value == "model"
    assert "from measurements" not in _captions(at)


def test_what_if_moves_the_measured_times_and_shows_their_share(make_app, small_model):
    at = _page(make_app, "whatif", mode="decode", wi_device="h100-sxm", kernels="measured")
    at.select_slider(key="in_wi_mem_bw").set_value(2.0).run()
    assert not at.exception
    wl = get_workload(small_model, "decode", batch=1, seq=1, context=SEQ)
    what = load_device("h100-sxm").scaled(mem_bw=2.0)
    want = simulate(wl, what, _measured())
    assert at.metric[0].value == f"{want.time_s * 1e3:,.3f} ms"
    share = measured_share(workload_kernel_check(wl, what, _measured()))
    assert any(c.value == f"What-if decode: {share_line(share)[0].upper()}"
               f"{share_line(share)[1:]}." for c in at.caption)


@pytest.mark.parametrize("page, call", [("training", "train_search"),
                                        ("serving", "capacity_plan")])
def test_the_switch_reaches_the_training_and_serving_calls(make_app, monkeypatch, page, call):
    seen = []

    def record(*args, **kwargs):
        seen.append(args[-1])
        raise ValueError("recorded")

    monkeypatch.setattr(state, call, record)
    at = _page(make_app, page, kernels="measured")
    assert seen == ["measured"]
    assert any("recorded" in e.value for e in at.error)
