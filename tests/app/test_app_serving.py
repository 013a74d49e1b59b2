"""Serving & capacity page: the ranked options and one option's simulation equal the API's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.parallel.plan import Plan
from simulator.parallel.systems import system_for_gpus
from simulator.serving.capacity import CapacityQuery, plan_capacity
from simulator.serving.lengths import parse_length
from simulator.serving.replica import ReplicaSpec
from simulator.serving.simulation import Slo, Traffic, simulate_serving
from simulator.serving.steady_state import STEADY_STATE
from tests.app import expected

QPS, REQUESTS = 40.0, 60
TRAFFIC = {"sv_hw": ["h100-sxm", "mi300x"], "sv_tps": [1, 2], "sv_dtypes": ["bf16"],
           "sv_qps": QPS, "sv_input": "256", "sv_output": "uniform:8:32",
           "sv_ttft_ms": 500.0, "sv_tpot_ms": 50.0, "sv_requests": REQUESTS}


def _serving(make_app, **inputs):
    at = make_app(run=False, **{**TRAFFIC, **inputs})
    at.run()
    at.switch_page("app_pages/serving.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _plan(model: str, ttft_s: float = 0.5, tpot_s: float = 0.05):
    return plan_capacity(CapacityQuery(
        model=model, qps=QPS, input_len=parse_length("256"),
        output_len=parse_length("uniform:8:32"), slo=Slo(ttft_s, tpot_s),
        hardware=("h100-sxm", "mi300x"), tps=(1, 2), precisions=("bf16",),
        steady=replace(STEADY_STATE, requests=REQUESTS)))


def test_ranked_options_and_simulation_equal_the_api(make_app, small_model):
    at = _serving(make_app)
    want = _plan(small_model)
    ranked = at.dataframe[0].value
    assert list(ranked["hardware"]) == [c.hardware for c in want.ranked]
    assert list(ranked["TP"]) == [c.tp for c in want.ranked]
    assert list(ranked["Pareto"]) == [c.pareto for c in want.ranked]
    for (_, row), c in zip(ranked.iterrows(), want.ranked, strict=True):
        assert row["req/s per replica"] == expected.approx(c.max_rate_per_replica)
        assert row["replicas"] == c.replicas
        assert row["$/hour"] == expected.approx(c.usd_per_hour)
        assert row["e2e p99 (ms)"] == expected.approx(c.e2e_p99_s * 1e3)
    pareto = at.get("plotly_chart")[0]
    assert "Pareto front" in pareto.proto.spec

    at.selectbox(key="in_sv_option").set_value(at.selectbox(key="in_sv_option").options[1])
    at.run()
    assert not at.exception
    c = want.ranked[1]
    spec = ReplicaSpec(small_model, system_for_gpus(c.hardware, c.tp), Plan(tp=c.tp),
                       Options(precision=Precision.parse("bf16")))
    traffic = Traffic(rate_per_s=QPS, duration_s=REQUESTS / QPS, input_len=parse_length("256"),
                      output_len=parse_length("uniform:8:32"))
    result = simulate_serving(spec, traffic, c.replicas, slo=Slo(0.5, 0.05))
    m = result.metrics()
    lat = at.dataframe[1].value.set_index("latency")
    assert lat.loc["time to first token", "p99 (ms)"] == expected.approx(m["ttft_p99_s"] * 1e3)
    assert lat.loc["time per output token", "p50 (ms)"] == expected.approx(m["tpot_p50_s"] * 1e3)
    assert lat.loc["end-to-end latency", "mean (ms)"] == expected.approx(m["e2e_mean_s"] * 1e3)
    timeline = at.dataframe[2].value
    assert np.allclose(timeline["kv_used_fraction"],
                       result.timeline_frame()["kv_used_fraction"], rtol=0, atol=0)
    assert at.metric[0].value == f"{m['completed']} / {m['dropped']}"
    kv = at.metric[3]
    assert (kv.label, kv.value) == ("KV cache per replica (tokens)", f"{m['kv_capacity_tokens']:,}")
    # The queue chart is drawn only where a request waited (it was a flat line on -1..1).
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    drawn = any("Queue length over time" in spec for spec in charts)
    waited = result.timeline_frame()["queue"].max() > 0
    assert drawn == waited
    assert waited or any("no request waited" in c.value for c in at.caption)


def test_unreachable_slo_names_the_best_reachable(make_app, small_model):
    at = _serving(make_app, sv_ttft_ms=0.001, sv_tpot_ms=0.001)
    best = _plan(small_model, 1e-6, 1e-6).best_reachable()
    assert best is not None
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("No configuration meets the SLOs")
    assert f"{best.hardware} TP{best.tp}" in errors[0]
    assert f"{best.ttft_p99_s * 1e3:.1f} ms" in errors[0]
    refused = at.dataframe[0].value
    assert set(refused["kind"]) == {"slo"}


@pytest.mark.parametrize("field, value, fragment", [("sv_qps", 0.0, "rate"),
                                                     ("sv_input", "weird:1", "weird")])
def test_bad_traffic_is_a_message(make_app, field, value, fragment):
    at = _serving(make_app, **{field: value})
    assert len(at.error) == 1 and fragment in at.error[0].value, [e.value for e in at.error]
    assert not at.dataframe
