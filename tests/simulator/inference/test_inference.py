"""Inference on a parallel plan: golden cases on the round-number system (speed of light)."""

from __future__ import annotations

import pytest

from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.simulate import simulate
from simulator.inference.request import InferenceWorkloads, decode_context, simulate_inference
from simulator.parallel.plan import Plan, PlanError
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system

ARCH = ts.Arch(layers=4, hidden=1024, heads=16, kv_heads=4, ffn=4096, vocab=32000)
IDEAL = Options(ideal=True)
B_LINK, ALPHA = 50e9, 1e-6


def _ws(batch=2, input_len=128, output_len=32, arch=ARCH):
    decode = ts.decode(arch, batch, decode_context(input_len, output_len))
    return InferenceWorkloads(ts.prefill(arch, batch, input_len), decode, decode, output_len)


def test_mean_decode_context():
    # O = 32 tokens: the prefill gives the first, 31 decode steps see caches of I .. I + 30.
    assert decode_context(128, 32) == 128 + 15
    assert decode_context(128, 1) == decode_context(128, 2) == 128


def test_one_gpu_is_the_single_device_simulation():
    ws, system = _ws(), round_system()
    r = simulate_inference(ws, system, Plan(), IDEAL)
    ttft = simulate(ws.prefill, system.device, Options(ideal=True)).time_s
    tpot = simulate(ws.decode_start, system.device, Options(ideal=True)).time_s
    assert r.ttft_s == pytest.approx(ttft, rel=1e-9)
    assert r.tpot_s == pytest.approx(tpot, rel=1e-9)
    assert r.e2e_latency_s == pytest.approx(ttft + 31 * tpot, rel=1e-9)
    assert r.tokens_per_s == pytest.approx(2 * 32 / r.e2e_latency_s)
    assert r.prefill_comm_s == r.decode_comm_s == 0.0


def test_tensor_parallel_decode_all_reduces_each_block_output():
    # Batch 2, one token each: block outputs of 2 x 1024 x 2 = 4096 bytes. Per step, 2 per
    # layer plus the embedding's: 9 all-reduces of S / B + 2 alpha (ring over 2).
    r = simulate_inference(_ws(), round_system(), Plan(tp=2), IDEAL)
    assert r.decode_comm_s == pytest.approx(9 * (4096 / B_LINK + 2 * ALPHA), rel=1e-9)
    one = simulate_inference(_ws(), round_system(), Plan(), IDEAL)
    assert r.tpot_s < one.tpot_s and r.tokens_per_s_per_gpu < one.tokens_per_s_per_gpu


def test_memory_splits_weights_by_tp_and_pp_and_kv_by_kv_heads():
    ws, system = _ws(), round_system()
    one = simulate_inference(ws, system, Plan(), IDEAL).footprint
    # The cache at its fullest: 2 sequences x (128 + 32) tokens.
    assert one.kv_cache_bytes == pytest.approx(2 * 160 * ts.facts(ARCH).kv_bytes_per_token)
    tp2 = simulate_inference(ws, system, Plan(tp=2), IDEAL).footprint
    tp8 = simulate_inference(ws, system, Plan(tp=8), IDEAL).footprint
    assert tp2.weights_bytes == pytest.approx(one.weights_bytes / 2)
    assert tp2.kv_cache_bytes == pytest.approx(one.kv_cache_bytes / 2)
    assert tp8.kv_cache_bytes == pytest.approx(one.kv_cache_bytes / 4)   # 4 KV heads
    pp2 = simulate_inference(ws, system, Plan(pp=2), IDEAL)
    assert pp2.footprint.weights_bytes < one.weights_bytes
    assert pp2.ttft_s > simulate_inference(ws, system, Plan(), IDEAL).ttft_s   # the p2p hop


def test_precision_what_ifs_shrink_weights_and_cache():
    ws, system = _ws(), round_system()
    w8 = Options(ideal=True, precision=Precision.parse("bf16", weights="int8", kv="fp8"))
    base = simulate_inference(ws, system, Plan(), IDEAL)
    low = simulate_inference(ws, system, Plan(), w8)
    assert low.footprint.weights_bytes == pytest.approx(base.footprint.weights_bytes / 2)
    assert low.footprint.kv_cache_bytes == pytest.approx(base.footprint.kv_cache_bytes / 2)


def test_out_of_memory_and_bad_plans():
    big = _ws(batch=4096, input_len=4096, output_len=4096)
    r = simulate_inference(big, round_system(), Plan(), IDEAL)
    assert not r.feasible and r.footprint.kv_cache_bytes > 100e9
    with pytest.raises(PlanError, match="inference plans take"):
        simulate_inference(_ws(), round_system(), Plan(zero=1), IDEAL)
    with pytest.raises(ValueError, match="output length"):
        InferenceWorkloads(_ws().prefill, _ws().decode_start, _ws().decode_end, 0)


def test_expert_parallel_beyond_tp_adds_all_to_all():
    moe = ts.Arch(layers=2, hidden=512, heads=8, kv_heads=8, ffn=1024, vocab=1000, experts=8,
                  top_k=2)
    ws = _ws(arch=moe)
    tp = simulate_inference(ws, round_system(), Plan(tp=2), IDEAL)
    ep = simulate_inference(ws, round_system(), Plan(tp=2, ep=4, dp=2), IDEAL)
    assert ep.decode_comm_s > tp.decode_comm_s
    assert ep.footprint.weights_bytes < tp.footprint.weights_bytes


def test_summary_keys():
    s = simulate_inference(_ws(), round_system(), Plan(tp=2)).summary()
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s", "tokens_per_s_per_gpu",
                "memory_bytes_per_gpu", "feasible", "usd_per_1m_output_tokens"):
        assert key in s
