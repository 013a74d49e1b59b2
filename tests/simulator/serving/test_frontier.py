"""The concurrency frontier: per-GPU and per-user throughput of each point, and its Pareto
front (no front point beaten on both axes, every other point beaten by one)."""

from __future__ import annotations

import pytest

from simulator.serving.frontier import FrontierQuery, concurrency_frontier
from simulator.serving.lengths import parse_length
from simulator.serving.simulation import Slo
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model


@pytest.fixture(scope="module")
def frontier(tiny_model):
    return concurrency_frontier(FrontierQuery(
        model=tiny_model, hardware=("dgx-h100",), tps=(1, 2), precisions=("bf16", "fp8"),
        concurrencies=(1, 4, 16, 64), input_len=parse_length("256"),
        output_len=parse_length("64"), engine="trtllm", modes=("agg", "disagg"),
        slo=Slo(ttft_s=1.0, tpot_s=0.00025)))


def _beats(o, p) -> bool:
    a, b = o.output_tokens_per_s_per_gpu, o.output_tokens_per_s_per_user
    x, y = p.output_tokens_per_s_per_gpu, p.output_tokens_per_s_per_user
    return a >= x and b >= y and (a > x or b > y)


def test_the_pareto_front_is_exactly_the_points_nothing_beats(frontier):
    points = frontier.points
    assert len(points) == 2 * 2 * 2 * 4 and not frontier.refused
    for p in points:
        assert p.pareto == (not any(_beats(o, p) for o in points))
    front = frontier.pareto
    assert front and [p.output_tokens_per_s_per_user for p in front] == \
        sorted(p.output_tokens_per_s_per_user for p in front)


def test_each_point_is_its_closed_loop(frontier):
    for p in frontier.points:
        assert p.gpus == p.tp * (2 if p.mode == "disagg" else 1)
        assert p.output_tokens_per_s_per_user == pytest.approx(1 / p.tpot_mean_s)
        assert p.meets_slo == (p.ttft_p99_s <= 1.0 and p.tpot_p99_s <= 0.00025)
    frame = frontier.frame()
    assert list(frame["label"]) == [p.label for p in frontier.points]


def test_bad_sweeps_are_refused():
    with pytest.raises(ValueError, match="concurrencies must be whole numbers"):
        FrontierQuery(model="m", hardware=("h100-sxm",), concurrencies=(0,))
    with pytest.raises(ValueError, match="modes are"):
        FrontierQuery(model="m", hardware=("h100-sxm",), modes=("split",))
