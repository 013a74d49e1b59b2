"""Training page: the shown plans and refusals equal `search_training`'s for the same inputs."""

from __future__ import annotations

import pytest

from hwspecs.dtypes import DType
from simulator.core.cost import CostOptions
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.parallel.systems import system_for_gpus
from simulator.planner.search import search_training
from simulator.training.step import prepare
from tests.app import expected
from workloads import get_workload

SEQ, BATCH = 128, 16


def _expected(model: str, system: str, gpus: int, objective: str, tokens: float,
              pricing: str = "rent"):
    sys_ = system_for_gpus(system, gpus)
    wl = get_workload(model, "train", batch=1, seq=SEQ, dtype=DType.BF16)
    opts = Options(precision=Precision.parse("bf16"), cost=CostOptions(pricing=pricing))
    return search_training(prepare(wl, sys_, opts), gpus, BATCH, objective,
                           train_tokens=tokens)


def _training(make_app, **inputs):
    preset = {"tr_system": "dgx-h100", "tr_gpus": 8, "tr_seq": SEQ, "tr_batch": BATCH,
              "tr_tokens_b": 10.0, "tr_top": 5}
    preset.update(inputs)
    at = make_app(run=False, **preset)
    at.run()
    at.switch_page("app_pages/training.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_top_plans_equal_the_search(make_app, small_model):
    at = _training(make_app)
    want = _expected(small_model, "dgx-h100", 8, "throughput", 10e9)
    plans, refused = (d.value for d in at.dataframe)
    assert len(plans) == 5
    for (_, row), r, u in zip(plans.iterrows(), want.ranked[:5], want.uncertainty[:5],
                              strict=True):
        assert row["plan"] == r.plan.label()
        assert row["family err"] == u.label()      # as `archsim train --search` shows it
        assert row["step time (s)"] == expected.approx(r.step_time_s)
        assert row["MFU"] == expected.approx(r.mfu)
        assert row["memory/GPU (GB)"] == expected.approx(r.memory_bytes_per_gpu / 1e9)
        assert row["days to train"] == expected.approx(r.days)
        assert row["cost to train ($)"] == expected.approx(r.usd)
        expected.assert_same(row["$/1M tokens"], r.cost.usd_per_1m_tokens)
    assert list(refused["reason"]) == [k for k, _, _ in want.refusal_counts()]
    assert list(refused["plans"]) == [n for _, n, _ in want.refusal_counts()]
    assert any("pipeline stages" in why for why in refused["example"])   # 2 layers, pp up to 8
    best = want.ranked[0]
    assert at.metric[0].value == f"{best.step_time_s:,.4f} s"
    assert at.metric[1].value == f"{best.mfu:.1%}"
    assert at.metric[4].value == f"${best.usd:,.0f}"


def test_cost_objective_and_fewer_gpus_change_the_ranking(make_app, small_model):
    at = _training(make_app)
    at.number_input(key="in_tr_gpus").set_value(4)
    at.radio(key="in_tr_objective").set_value("cost")
    at.run()
    assert not at.exception
    want = _expected(small_model, "dgx-h100", 4, "cost", 10e9)
    plans = at.dataframe[0].value
    assert list(plans["plan"]) == [r.plan.label() for r in want.ranked[:5]]
    assert list(plans["$/1M tokens"]) == pytest.approx(
        [r.cost.usd_per_1m_tokens for r in want.ranked[:5]], rel=1e-12)
    assert (plans["dp"] * plans["tp"] * plans["pp"] == 4).all()


def test_unknown_model_is_a_message(make_app, tmp_path):
    missing = str(tmp_path / "nowhere" / "config.json")
    at = _training(make_app, model_path=missing)
    assert len(at.error) == 1 and "nowhere" in at.error[0].value, [e.value for e in at.error]
    assert not at.dataframe
