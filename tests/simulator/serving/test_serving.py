"""Request-level serving simulation: low-load latencies, Little's law, determinism, load."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.inference.request import InferenceWorkloads, decode_context, simulate_inference
from simulator.parallel.plan import Plan
from simulator.serving.iteration_cost import bucket_workload
from simulator.serving.lengths import parse_length
from simulator.serving.scheduler import SchedulerConfig
from simulator.serving.simulation import Slo, Traffic, kv_link, simulate_serving
from tests.simulator.serving import serving_fixtures

IN, OUT = 128, 34

tiny_cost = serving_fixtures.tiny_cost
tiny_model = serving_fixtures.tiny_model
tiny_spec = serving_fixtures.tiny_spec


def _traffic(rate, duration=None, n=300, seed=0, inp="uniform:64:256", out="uniform:8:64",
             cv=1.0):
    return Traffic(rate_per_s=rate, duration_s=duration or n / rate, seed=seed, cv=cv,
                   input_len=parse_length(inp), output_len=parse_length(out))


def _p99(result):
    m = result.metrics()
    return np.array([m["ttft_p99_s"], m["tpot_p99_s"], m["e2e_p99_s"]])


def _single_request(spec, model):
    ws = InferenceWorkloads(bucket_workload(model, "prefill", 1, IN, 0),
                            bucket_workload(model, "decode", 1, 1, decode_context(IN, OUT)),
                            bucket_workload(model, "decode", 1, 1, decode_context(IN, OUT)), OUT)
    return simulate_inference(ws, spec.system, Plan(), spec.options)


def test_low_load_latencies_are_the_single_request_prediction(tiny_spec, tiny_cost, tiny_model):
    one = _single_request(tiny_spec, tiny_model)
    # Nearly periodic requests far apart: each is alone on the replica.
    traffic = _traffic(0.2 / one.e2e_latency_s, n=20, inp=str(IN), out=str(OUT), cv=0.1)
    r = simulate_serving(tiny_spec, traffic, cost=tiny_cost)
    lat = r.latencies()
    assert r.metrics()["completed"] == len(r.requests)
    assert lat["ttft"] == pytest.approx(one.ttft_s, rel=1e-9)
    assert lat["tpot"] == pytest.approx(one.tpot_s, rel=0.02)
    assert lat["e2e"] == pytest.approx(one.e2e_latency_s, rel=0.02)


def test_disaggregated_low_load_adds_the_kv_transfer(tiny_spec, tiny_cost, tiny_model):
    one = _single_request(tiny_spec, tiny_model)
    traffic = _traffic(0.2 / one.e2e_latency_s, n=20, inp=str(IN), out=str(OUT), cv=0.1)
    r = simulate_serving(tiny_spec, traffic, prefill_replicas=1, cost=tiny_cost)
    bw, latency = kv_link(tiny_spec)
    transfer_s = latency + IN * tiny_cost.memory(8192)[2] / bw
    lat = r.latencies()
    assert r.metrics()["completed"] == len(r.requests)
    assert np.all(r.state.replica == 1)                 # decoded on the decode replica
    assert lat["ttft"] == pytest.approx(one.ttft_s, rel=1e-9)
    decode_s = lat["e2e"] - lat["ttft"] - transfer_s
    assert decode_s == pytest.approx((OUT - 1) * one.tpot_s, rel=0.02)


def test_disaggregated_heavy_load_completes_every_request(tiny_spec, tiny_cost):
    config = SchedulerConfig(kv_tokens_limit=1024, max_batched_tokens=512, max_seqs=32)
    r = simulate_serving(tiny_spec, _traffic(3000.0, n=400, inp="uniform:32:700",
                                             out="uniform:8:400"), replicas=2,
                         prefill_replicas=2, config=config, router="least_outstanding",
                         cost=tiny_cost)
    m = r.metrics()
    assert m["completed"] + m["dropped"] == len(r.requests) and m["completed"] > 200
    assert np.all(r.state.gen[~r.state.dropped] == r.state.out[~r.state.dropped])


def test_littles_law_holds(tiny_spec, tiny_cost):
    r = simulate_serving(tiny_spec, _traffic(2000.0, n=3000, seed=3), cost=tiny_cost)
    rows = r.timeline[0]
    # The engine's own count of queued and running requests, averaged over time ...
    in_system = float(((rows[1:, 0] - rows[:-1, 0]) * (rows[:-1, 1] + rows[:-1, 2])).sum()
                      / (rows[-1, 0] - rows[0, 0]))
    # ... against arrival rate x mean time in system.
    rate = len(r.requests) / (rows[-1, 0] - rows[0, 0])
    assert in_system > 5
    assert in_system == pytest.approx(rate * r.latencies()["e2e"].mean(), rel=0.05)


def test_a_fixed_seed_gives_identical_runs_and_another_seed_does_not(tiny_spec, tiny_cost):
    a = simulate_serving(tiny_spec, _traffic(500.0, seed=7), replicas=2, cost=tiny_cost)
    b = simulate_serving(tiny_spec, _traffic(500.0, seed=7), replicas=2, cost=tiny_cost)
    c = simulate_serving(tiny_spec, _traffic(500.0, seed=8), replicas=2, cost=tiny_cost)
    assert a.requests_frame().equals(b.requests_frame())
    assert not a.requests_frame().equals(c.requests_frame())


@pytest.mark.parametrize("chunked", [True, False])
def test_every_request_completes_or_is_dropped_under_preemption(tiny_spec, tiny_cost,
                                                                chunked):
    # A KV cache of 1,024 tokens: long requests are dropped, the rest contend and preempt.
    config = SchedulerConfig(kv_tokens_limit=1024, block_size=16, max_batched_tokens=512,
                             max_seqs=32, chunked_prefill=chunked)
    r = simulate_serving(tiny_spec, _traffic(3000.0, n=400, inp="uniform:32:700",
                                             out="uniform:8:400"),
                         config=config, cost=tiny_cost)
    s, m = r.state, r.metrics()
    assert m["dropped"] > 0 and m["preemptions"] > 0
    assert m["completed"] + m["dropped"] == len(r.requests)
    done = ~s.dropped
    assert np.all(np.isfinite(s.finish_s[done])) and np.all(s.gen[done] == s.out[done])
    assert np.all(s.first_s[done] >= s.arrival_s[done])
    assert np.all(s.finish_s[done] >= s.first_s[done])
    too_big = -(-(s.prompt + s.out) // 16) > 1024 // 16
    if not chunked:
        too_big |= s.prompt > 512
    assert np.array_equal(s.dropped, too_big)
    assert r.timeline_frame()["kv_used_fraction"].max() <= 1.0


def test_more_load_never_lowers_the_p99(tiny_spec, tiny_cost):
    p99 = [_p99(simulate_serving(tiny_spec, _traffic(rate), cost=tiny_cost))
           for rate in (100.0, 2000.0, 20000.0, 80000.0)]
    for lo, hi in zip(p99, p99[1:], strict=False):
        assert np.all(hi >= lo * (1 - 1e-9))
    assert p99[-1][0] > 2 * p99[0][0]


@pytest.mark.parametrize("router", ["round_robin", "least_outstanding"])
def test_more_replicas_never_raise_the_p99(tiny_spec, tiny_cost, router):
    p99 = [_p99(simulate_serving(tiny_spec, _traffic(4000.0), replicas=n, router=router,
                                 cost=tiny_cost)) for n in (1, 2, 4)]
    for few, many in zip(p99, p99[1:], strict=False):
        assert np.all(many <= few * (1 + 1e-9))


def test_goodput_counts_the_requests_within_the_slos(tiny_spec, tiny_cost):
    base = simulate_serving(tiny_spec, _traffic(2000.0), cost=tiny_cost)
    lat = base.latencies()
    ttft = float(np.median(lat["ttft"]))
    strict = simulate_serving(tiny_spec, _traffic(2000.0), cost=tiny_cost, slo=Slo(ttft_s=ttft))
    m, ms = base.metrics(), strict.metrics()
    assert m["goodput_rps"] == pytest.approx(m["requests_per_s"])
    expected = (lat["ttft"] <= ttft).sum() / base.makespan_s
    assert ms["goodput_rps"] == pytest.approx(expected)
    assert ms["goodput_rps"] < m["goodput_rps"]


def test_throughput_matches_the_offered_tokens(tiny_spec, tiny_cost):
    r = simulate_serving(tiny_spec, _traffic(200.0, n=600), cost=tiny_cost)
    m, s = r.metrics(), r.state
    assert m["output_tokens_per_s"] == pytest.approx(s.out.sum() / r.makespan_s)
    assert m["input_tokens_per_s"] == pytest.approx(s.prompt.sum() / r.makespan_s)
    assert m["requests_per_s"] == pytest.approx(200.0, rel=0.15)
