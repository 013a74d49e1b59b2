"""Capacity at steady state (issue 17): the defaults give the answer of runs ten times longer,
the recommendation holds its SLOs in a `serve` run at the planned rate, refusals name the
binding limit, costs come from the cost model, and the CLI says what it hides."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

import archsim
from simulator.core.cost import CostOptions, cost_columns
from simulator.parallel.plan import Plan
from simulator.parallel.systems import system_for_gpus
from simulator.serving.capacity import CapacityQuery, Refusal, plan_capacity
from simulator.serving.capacity_cost import OUTLIER_REPLICAS, option_cost, outlier_reason
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import parse_length
from simulator.serving.replica import ReplicaSpec
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import Slo, Traffic, simulate_serving
from simulator.serving.steady_state import STEADY_STATE, measure, p99_with_interval
from tests.cli.test_training_cli import TINY_LLAMA

SLO = Slo(ttft_s=0.004, tpot_s=0.002)


@pytest.fixture(scope="module", params=["narrow", "deep"])
def small_model(request, tmp_path_factory) -> str:
    """Two small Llamas: the tiny one, and one twice as deep and wide."""
    config = dict(TINY_LLAMA) if request.param == "narrow" else {
        **TINY_LLAMA, "hidden_size": 512, "intermediate_size": 1024, "num_hidden_layers": 8}
    folder = tmp_path_factory.mktemp(f"steady-{request.param}")
    (folder / "config.json").write_text(json.dumps(config))
    return str(folder)


def _query(model, **kw):
    return CapacityQuery(**{"model": model, "qps": 12000.0, "input_len": parse_length("256"),
                            "output_len": parse_length("uniform:16:48"), "slo": SLO,
                            "hardware": ("h100-sxm",), "tps": (1,), **kw})


def _spec_cost(model, c, q):
    spec = ReplicaSpec(model, system_for_gpus(c.hardware, c.tp), Plan(tp=c.tp))
    return spec, IterationCost(spec, q.input_len.max_tokens + q.output_len.max_tokens)


@pytest.fixture(scope="module")
def planned(small_model):
    q = _query(small_model)
    return q, plan_capacity(q)


def test_the_defaults_give_the_answer_of_runs_ten_times_longer(planned, small_model):
    q, plan = planned
    (c,) = plan.ranked
    spec, cost = _spec_cost(small_model, c, q)
    longer = replace(q.steady, requests=q.steady.requests * 10, replications=2,
                     max_replications=4)
    # Ten times the requests per replication: the rate found holds, one bisection step past
    # it does not, so the long runs' bisection would end on the same rate and replicas.
    assert measure(spec, cost, q.load, c.max_rate_per_replica, longer).holds(q.slo)
    past = c.max_rate_per_replica * (1 + q.rel_tol) ** 2
    assert not measure(spec, cost, q.load, past, longer).holds(q.slo)
    assert c.replicas == math.ceil(q.qps / c.max_rate_per_replica * (1 - 1e-9))


def test_the_recommendation_holds_its_slos_in_serve_at_the_planned_rate(planned, small_model):
    q, plan = planned
    c = plan.ranked[0]
    spec, cost = _spec_cost(small_model, c, q)
    traffic = Traffic(rate_per_s=q.qps, duration_s=6000 / q.qps, input_len=q.input_len,
                      output_len=q.output_len, seed=7)
    m = simulate_serving(spec, traffic, c.replicas, q.scheduler, slo=q.slo, cost=cost).metrics()
    assert m["dropped"] == 0
    assert m["ttft_p99_s"] <= q.slo.ttft_s and m["tpot_p99_s"] <= q.slo.tpot_s
    # And the interval reported at the planned load lies within the SLOs.
    assert c.ttft_p99_low_s <= c.ttft_p99_s <= c.ttft_p99_high_s <= q.slo.ttft_s
    assert c.tpot_p99_high_s <= q.slo.tpot_s and c.measured_requests > 1000


def test_the_interval_covers_the_p99_and_shrinks_with_more_runs():
    rng = np.random.default_rng(0)
    few = p99_with_interval([rng.exponential(size=500) for _ in range(4)], 0.95)
    many = p99_with_interval([rng.exponential(size=500) for _ in range(16)], 0.95)
    assert few.low_s < math.log(100) < few.high_s
    assert many.half_width_s < few.half_width_s


def test_a_kv_cache_holding_one_request_is_refused_for_kv_capacity(small_model):
    tokens = 256 + 48
    q = _query(small_model, slo=Slo(0.004, 0.002),
               scheduler=SchedulerConfig(kv_tokens_limit=tokens + 16),
               steady=replace(STEADY_STATE, requests=400))
    (c,) = plan_capacity(q).refused
    assert c.kind is Refusal.KV
    assert c.reason.startswith("KV capacity: the cache holds")
    assert "1 request(s)" in c.reason and "a lone request takes TTFT" in c.reason


def test_costs_are_the_cost_models_over_an_hour_of_the_traffic():
    device = system_for_gpus("h100-sxm", 1).device
    inp, out = parse_length("1000"), parse_length("uniform:100:300")
    c = option_cost(device, 8, 3, 10.0, inp, out, CostOptions())
    hourly = float(cost_columns(device, 3600.0, 3600.0, 1.0, CostOptions(), 24).usd_per_hour[0])
    assert c.usd_per_hour == pytest.approx(hourly)
    assert c.usd_per_1m_input_tokens == pytest.approx(hourly / (36000 * 1000) * 1e6)
    assert c.usd_per_1m_output_tokens == pytest.approx(hourly / (36000 * 200) * 1e6)
    assert c.usd_per_1m_tokens == pytest.approx(hourly / (36000 * 1200) * 1e6)
    assert c.usd_per_request == pytest.approx(hourly / 36000)
    assert c.kw_per_replica == pytest.approx(8 * device.tdp_w / 1e3)


def test_outliers_are_flagged_past_the_stated_replicas_or_cost():
    assert outlier_reason(OUTLIER_REPLICAS, 10.0, 5.0) == ""
    assert "replicas" in outlier_reason(OUTLIER_REPLICAS + 1, 10.0, 5.0)
    assert "the cheapest" in outlier_reason(2, 1000.0, 5.0)


def test_the_cli_says_how_many_rows_it_hides_and_writes_the_table(capsys, small_model,
                                                                   tmp_path):
    csv = tmp_path / "capacity.csv"
    base = ["plan-capacity", "--model", small_model, "--qps", "12000", "--input-len", "256",
            "--output-len", "uniform:16:48", "--slo-ttft-p99", "0.004", "--slo-tpot-p99",
            "0.002", "--hw", "h100-sxm,a100-sxm-80gb", "--tp", "1,2,3", "--requests", "300",
            "--top", "1", "--csv", str(csv)]
    assert archsim.main(base) == 0
    out, _ = capsys.readouterr()
    assert "3 more option(s) not shown: --top 4 shows all" in out
    assert "Latencies at the planned load (12000 requests/s over the replicas)" in out
    lines = csv.read_text().splitlines()
    assert len(lines) == 1 + 4 + 2 and "usd_per_1m_input_tokens" in lines[0]
    assert archsim.main(base + ["--json"]) == 0
    data = json.loads(capsys.readouterr()[0])
    assert data["hidden"] == 3 and len(data["ranked"]) == 1
    assert {r["kind"] for r in data["refused"]} == {"plan"}
