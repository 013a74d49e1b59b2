"""Serving page, concurrency sweep: the chart and the table behind it equal the API's."""

from __future__ import annotations

from simulator.serving.frontier import FrontierQuery, concurrency_frontier
from simulator.serving.lengths import parse_length
from simulator.serving.simulation import Slo
from tests.app import expected
from tests.app.test_app_serving import TRAFFIC, _serving
from workloads.config import tp_plan_of


def _sweep_table(at):
    frames = [d.value for d in at.dataframe if "tokens/s per GPU" in d.value.columns]
    assert len(frames) == 1
    return frames[0]


def test_the_sweep_table_equals_the_api(make_app, small_model):
    at = _serving(make_app, sv_engine="vllm", sv_conc="1,8,32", sv_disagg=True, sv_sweep=True)
    table = _sweep_table(at)
    want = concurrency_frontier(FrontierQuery(
        model=small_model, hardware=tuple(TRAFFIC["sv_hw"]), tps=(1, 2), precisions=("bf16",),
        concurrencies=(1, 8, 32), input_len=parse_length(TRAFFIC["sv_input"]),
        output_len=parse_length(TRAFFIC["sv_output"]), engine="vllm",
        modes=("agg", "disagg"), slo=Slo(0.5, 0.05), tp_plan=tp_plan_of(small_model)))
    assert len(table) == len(want.points) == 2 * 2 * 2 * 3
    for (_, row), p in zip(table.iterrows(), want.points, strict=True):
        assert row["option"] == p.label and row["concurrency"] == p.concurrency
        assert row["tokens/s per GPU"] == expected.approx(p.output_tokens_per_s_per_gpu)
        assert row["tokens/s per user"] == expected.approx(p.output_tokens_per_s_per_user)
        assert row["Pareto"] == p.pareto and row["meets SLO"] == p.meets_slo
    charts = [c for c in at.get("plotly_chart") if "Pareto front" in c.proto.spec
              and "per user" in c.proto.spec]
    assert charts and "SLO: TPOT 50 ms" in charts[0].proto.spec


def test_the_sweep_waits_until_asked_for(make_app):
    at = _serving(make_app)
    assert not [d for d in at.dataframe if "tokens/s per GPU" in d.value.columns]
    assert at.toggle(key="in_sv_sweep").value is False


def test_bad_concurrencies_are_one_line(make_app):
    at = _serving(make_app, sv_conc="1,x", sv_sweep=True)
    assert any("concurrencies must be whole numbers" in e.value for e in at.error)
