"""Capacity planning: bisection on the rate, replicas, cost ranking, Pareto, refusals."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

import archsim
from simulator.parallel.plan import Plan
from simulator.parallel.systems import system_for_gpus
from simulator.serving.capacity import CapacityQuery, Refusal, plan_capacity
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import parse_length
from simulator.serving.replica import ReplicaSpec
from simulator.serving.simulation import Slo
from simulator.serving.steady_state import STEADY_STATE, measure
from tests.cli.test_training_cli import TINY_LLAMA
from tests.simulator.serving import serving_fixtures

SLO = Slo(ttft_s=0.002, tpot_s=0.0004)

tiny_model = serving_fixtures.tiny_model


def _query(model, qps=20000.0, slo=SLO, hardware=("h100-sxm", "a100-sxm-80gb"), tps=(1, 2, 3)):
    return CapacityQuery(model=model, qps=qps, input_len=parse_length("uniform:32:256"),
                         output_len=parse_length("uniform:8:64"), slo=slo, hardware=hardware,
                         tps=tps, steady=replace(STEADY_STATE, requests=300))


@pytest.fixture(scope="module")
def plan(tiny_model):
    return plan_capacity(_query(tiny_model))


def test_candidates_are_ranked_by_cost_with_the_replicas_for_the_rate(plan):
    assert len(plan.ranked) == 4
    costs = [c.usd_per_hour for c in plan.ranked]
    assert costs == sorted(costs)
    for c in plan.ranked:
        assert c.replicas == math.ceil(plan.query.qps / c.max_rate_per_replica)
        assert c.gpus == c.replicas * c.tp
        assert c.usd_per_1m_output_tokens > c.usd_per_1m_tokens > 0
        assert c.ttft_p99_s <= SLO.ttft_s and c.tpot_p99_s <= SLO.tpot_s


def test_tp_that_does_not_divide_the_heads_is_refused_with_the_reason(plan):
    kinds = {(c.hardware, c.tp): c.kind for c in plan.refused}
    assert kinds == {("h100-sxm", 3): "plan", ("a100-sxm-80gb", 3): "plan"}
    assert all("heads" in c.reason for c in plan.refused)


def test_the_rate_found_is_held_and_a_little_more_is_not(plan, tiny_model):
    c = plan.ranked[0]
    q = plan.query
    spec = ReplicaSpec(tiny_model, system_for_gpus(c.hardware, c.tp), Plan(tp=c.tp))
    cost = IterationCost(spec, q.input_len.max_tokens + q.output_len.max_tokens)
    held = measure(spec, cost, q.load, c.max_rate_per_replica, q.steady)
    assert held.holds(q.slo) and held.ttft.high_s <= q.slo.ttft_s
    more = measure(spec, cost, q.load, c.max_rate_per_replica * (1 + q.rel_tol) * 1.01, q.steady)
    assert not more.holds(q.slo)


def test_the_pareto_front_is_not_dominated(plan):
    front = plan.pareto
    assert plan.ranked[0] in front
    for c in front:
        assert not any(o.usd_per_hour <= c.usd_per_hour and o.e2e_p99_s < c.e2e_p99_s
                       for o in plan.ranked if o is not c)


def test_an_slo_nothing_meets_says_so_and_shows_the_best_reachable(tiny_model):
    p = plan_capacity(_query(tiny_model, slo=Slo(ttft_s=1e-6, tpot_s=1e-6), tps=(1, 2)))
    assert not p.ranked
    best = p.best_reachable()
    assert best.kind is Refusal.SLO and "SLO at any load" in best.reason and best.ttft_p99_s > 1e-6
    assert best.ttft_p99_s == min(c.ttft_p99_s for c in p.refused)


def test_a_model_too_big_for_the_memory_is_refused_for_memory(tmp_path):
    folder = tmp_path / "wide-vocab"
    folder.mkdir()
    # 2 x 200M x 256 bf16 embedding parameters: about 200 GB.
    (folder / "config.json").write_text(json.dumps({**TINY_LLAMA, "vocab_size": 200_000_000}))
    p = plan_capacity(_query(str(folder), hardware=("h100-sxm",), tps=(1,)))
    assert not p.ranked and p.refused[0].kind is Refusal.MEMORY and "GB" in p.refused[0].reason


@pytest.mark.parametrize("qps", [0.0, -1.0])
def test_a_rate_that_is_not_positive_is_refused(tiny_model, qps):
    with pytest.raises(ValueError, match="rate must be a positive"):
        _query(tiny_model, qps=qps)


def test_plan_capacity_cli(capsys, tiny_model):
    base = ["plan-capacity", "--model", tiny_model, "--qps", "20000", "--input-len",
            "uniform:32:256", "--output-len", "uniform:8:64", "--hw", "h100-sxm", "--tp", "1,2",
            "--requests", "200"]
    code = archsim.main(base + ["--slo-ttft-p99", "0.002", "--slo-tpot-p99", "0.0004",
                                "--json"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert code == 0 and data["feasible"] and len(data["ranked"]) == 2
    assert {"replicas", "usd_per_hour", "usd_per_1m_tokens", "max_rate_per_replica",
            "pareto"} <= set(data["ranked"][0])
    code = archsim.main(base + ["--slo-ttft-p99", "1e-6", "--slo-tpot-p99", "1e-6"])
    out, err = capsys.readouterr()
    assert code == 1 and "No configuration meets the SLOs; the best reachable is" in err
