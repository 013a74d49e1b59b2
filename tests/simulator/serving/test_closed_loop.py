"""Closed-loop serving: Little's law, warm-up and drain left out, one request alone, more
concurrency trades per-user speed for throughput, and loops that can never run are refused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from simulator.serving.closed_loop import ClosedLoop, Pool, simulate_closed_loop
from simulator.serving.lengths import parse_length
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import kv_link
from tests.simulator.serving import serving_fixtures

tiny_cost = serving_fixtures.tiny_cost
tiny_model = serving_fixtures.tiny_model
tiny_spec = serving_fixtures.tiny_spec


def _run(spec, cost, c, inp="256", out="64", requests=None, config=None, prefill=None):
    loop = ClosedLoop(c, parse_length(inp), parse_length(out), requests=requests)
    return simulate_closed_loop(loop, Pool(spec, config=config or SchedulerConfig(), cost=cost),
                                prefill)


@pytest.mark.parametrize("c", [1, 8, 64, 200])
@pytest.mark.parametrize("inp, out", [("512", "128"), ("uniform:128:768", "lognormal:96:0.5")])
def test_littles_law_concurrency_is_throughput_times_latency(tiny_spec, tiny_cost, c, inp, out):
    m = _run(tiny_spec, tiny_cost, c, inp, out).metrics()
    assert m["steady_state"]
    assert m["requests_per_s"] * m["e2e_latency_mean_s"] == pytest.approx(c, rel=0.05)


def test_warm_up_and_drain_are_left_out(tiny_spec, tiny_cost):
    r = _run(tiny_spec, tiny_cost, 16, requests=200)
    ids = np.flatnonzero(r.measured)
    # The first 16 (sent at 0) are the warm-up; every one of the 200 after them is measured,
    # and the extra requests sent to hold the load while they finish are not.
    assert ids.min() == 16 and ids.max() == 199 and len(ids) == 184
    s = r.state
    assert (s.arrival_s[:16] == 0).all() and (s.arrival_s[16:200] > 0).all()
    sent = np.isfinite(s.arrival_s)
    assert sent.sum() > 200
    last_measured = s.finish_s[:200].max()
    # Until the last measured request finished, 16 were in flight.
    for t in np.linspace(s.arrival_s[16], last_measured, 50, endpoint=False):
        in_flight = ((s.arrival_s <= t) & (s.finish_s > t)).sum()
        assert in_flight == 16


def test_one_request_at_a_time_is_a_prefill_then_its_decodes(tiny_spec, tiny_cost):
    m = _run(tiny_spec, tiny_cost, 1, "256", "64").metrics()
    assert m["ttft_mean_s"] == pytest.approx(tiny_cost.prefill_s(256), rel=1e-9)
    # Decode steps over caches of 256..318 tokens, averaged.
    steps = [tiny_cost.decode_s(1, 256 + k) for k in range(63)]
    assert m["tpot_mean_s"] == pytest.approx(np.mean(steps), rel=1e-6)
    assert m["itl_mean_s"] == pytest.approx(m["tpot_mean_s"], rel=1e-9)
    assert m["output_tokens_per_s_per_user"] == pytest.approx(1 / m["tpot_mean_s"])


def test_more_concurrency_more_throughput_per_gpu_less_per_user(tiny_spec, tiny_cost):
    points = [_run(tiny_spec, tiny_cost, c).metrics() for c in (1, 4, 16, 64, 256)]
    per_gpu = [p["output_tokens_per_s_per_gpu"] for p in points]
    per_user = [p["output_tokens_per_s_per_user"] for p in points]
    assert per_gpu == sorted(per_gpu)
    # NB: a tiny model's decode step is launch-bound, flat up to a few sequences.
    assert per_user[-1] < per_user[2] < 1.1 * per_user[0]
    assert all(p["output_tokens_per_s"] == pytest.approx(p["output_tokens_per_s_per_gpu"])
               for p in points)          # one GPU


def test_the_json_keys_of_the_issue_are_there(tiny_spec, tiny_cost):
    m = _run(tiny_spec, tiny_cost, 8).metrics()
    for key in ("ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p50_s",
                "tpot_p99_s", "itl_mean_s", "e2e_latency_mean_s", "requests_per_s",
                "output_tokens_per_s", "output_tokens_per_s_per_gpu",
                "output_tokens_per_s_per_user"):
        assert np.isfinite(m[key]) and m[key] > 0, key


def test_a_fixed_seed_gives_the_same_run(tiny_spec, tiny_cost):
    a = _run(tiny_spec, tiny_cost, 8, "uniform:64:512", "uniform:8:64").metrics()
    b = _run(tiny_spec, tiny_cost, 8, "uniform:64:512", "uniform:8:64").metrics()
    assert a == b


def test_disaggregated_loop_adds_the_kv_transfer_to_the_first_token(tiny_spec, tiny_cost):
    agg = _run(tiny_spec, tiny_cost, 1, "256", "32").metrics()
    r = _run(tiny_spec, tiny_cost, 1, "256", "32", prefill=Pool(tiny_spec, cost=tiny_cost))
    m = r.metrics()
    bw, latency = kv_link(tiny_spec)
    transfer = latency + 256 * tiny_cost.memory(8192)[2] / bw
    assert m["gpus"] == 2 and m["measured_requests"] > 0
    # The first token comes from the prefill replica: TTFT is the same; the decode replica
    # starts once the KV cache arrived, so the end-to-end latency grows by the transfer.
    assert m["ttft_mean_s"] == pytest.approx(agg["ttft_mean_s"], rel=1e-9)
    assert m["e2e_latency_mean_s"] == pytest.approx(agg["e2e_latency_mean_s"] + transfer,
                                                    rel=0.02)


def test_a_prompt_no_iteration_can_take_is_refused_with_the_reason(tiny_spec, tiny_cost):
    config = SchedulerConfig(max_batched_tokens=1, chunked_prefill=False)
    with pytest.raises(ValueError, match="no request can ever be scheduled.*chunked prefill"):
        _run(tiny_spec, tiny_cost, 4, config=config)


def test_a_request_larger_than_the_kv_cache_is_refused_with_the_reason(tiny_spec, tiny_cost):
    config = SchedulerConfig(kv_tokens_limit=200)
    with pytest.raises(ValueError, match="needs 320 tokens of KV cache.*holds 192"):
        _run(tiny_spec, tiny_cost, 4, config=config)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_concurrency_that_is_not_a_positive_whole_number_is_refused(bad):
    with pytest.raises(ValueError, match="concurrency must be a whole number"):
        ClosedLoop(bad)


def test_a_thousand_requests_take_under_a_second(tiny_spec, tiny_cost):
    _run(tiny_spec, tiny_cost, 64, "uniform:256:2048", "uniform:64:512", requests=1000)
    start = time.perf_counter()
    _run(tiny_spec, tiny_cost, 64, "uniform:256:2048", "uniform:64:512", requests=1000)
    assert time.perf_counter() - start < 1.0
