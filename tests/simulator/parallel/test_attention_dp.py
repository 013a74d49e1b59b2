"""Attention data parallelism with expert parallelism, and the KV cache each GPU keeps.

A replica of tp x attn_dp GPUs: attention (and every dense kernel) runs data-parallel over
attn_dp groups of tp GPUs, each with the whole dense weights and its own 1/attn_dp of the
sequences; the routed experts are shared by all the replica's GPUs (1/ep of the experts each,
each expert split tp x attn_dp / ep ways), tokens dispatched and combined by all-to-all.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.core.arrays import KIND_CODE, to_arrays
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.inference.request import InferenceWorkloads, simulate_inference
from simulator.inference.step import kv_split, step_comm_s, weight_bytes_per_gpu
from simulator.parallel.plan import Plan, PlanError, check_plan
from simulator.parallel.roles import roles_of
from simulator.parallel.sharding import ShardSpec, shard
from simulator.planner.search import infer_space, search_inference
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system
from workloads.op import OpKind

MOE = ts.Arch(layers=2, hidden=1024, heads=16, kv_heads=4, ffn=768, vocab=8000, experts=8,
              top_k=2)
FACTS = ts.facts(MOE)


def _rows(w, name: str) -> np.ndarray:
    return np.array([op.name == name for op in w.ops])


def test_attention_dp_splits_sequences_and_keeps_dense_weights_whole():
    w = ts.decode(MOE, batch=16, context=512)
    a, r = to_arrays(w), roles_of(w)
    tp4 = shard(a, r, ShardSpec(tp=4))
    adp = shard(a, r, ShardSpec(tp=1, attn_dp=4, ep=4))
    attn = a.kind == KIND_CODE[OpKind.ATTENTION]
    # attention: a quarter of the work either way; the KV cache of 4 KV heads split 4 ways
    # (TP) or the cache of a quarter of the sequences (attention DP)
    assert np.allclose(tp4.flops[attn], a.flops[attn] / 4)
    assert np.allclose(adp.flops[attn], a.flops[attn] / 4)
    assert np.allclose(adp.kv_read_bytes[attn], a.kv_read_bytes[attn] / 4)
    q = np.array([op.module.endswith("q_proj") for op in w.ops])
    assert np.allclose(tp4.weight_read_bytes[q], a.weight_read_bytes[q] / 4)
    assert np.allclose(adp.weight_read_bytes[q], a.weight_read_bytes[q])      # whole
    assert np.allclose(adp.m[q], a.m[q] / 4)                                  # its tokens


def test_expert_parallelism_changes_the_expert_gemms():
    w = ts.decode(MOE, batch=16, context=512)
    a, r = to_arrays(w), roles_of(w)
    up = np.flatnonzero(_rows(w, "grouped_mm"))[::2]        # gate_up: k = hidden, n = 2 ffn
    down = np.flatnonzero(_rows(w, "grouped_mm"))[1::2]     # down: k = ffn, n = hidden
    tp = shard(a, r, ShardSpec(tp=4))
    ep = shard(a, r, ShardSpec(tp=4, ep=4))
    adp = shard(a, r, ShardSpec(tp=1, attn_dp=4, ep=4))
    for s in (tp, ep, adp):                         # a quarter of the experts' bytes and work
        assert np.allclose(s.weight_read_bytes[up], a.weight_read_bytes[up] / 4)
        assert np.allclose(s.flops[up], a.flops[up] / 4)
    # TP: all 8 experts on every GPU, each with a quarter of its intermediate columns, and
    # every row routed to it; EP: 2 whole experts per GPU, every row routed to them.
    assert (tp.batch[up] == 8).all() and np.allclose(tp.n[up], a.n[up] / 4)
    assert np.allclose(tp.k[down], a.k[down] / 4) and np.allclose(tp.n[down], a.n[down])
    assert np.allclose(tp.m[up], a.m[up])
    for s in (ep, adp):
        assert (s.batch[up] == 2).all() and np.allclose(s.n[up], a.n[up])
        assert np.allclose(s.m[up], a.m[up])
    # the shapes differ, the work does not
    assert np.allclose(tp.m[up] * tp.n[up] * tp.k[up] * tp.batch[up],
                       ep.m[up] * ep.n[up] * ep.k[up] * ep.batch[up])


def test_all_to_all_only_where_the_ep_group_holds_different_tokens():
    w = ts.decode(MOE, batch=16, context=512)
    r = roles_of(w)
    system = round_system()
    p, prof = Precision(), Options().profile_for(system.device)

    def comm(plan):
        return step_comm_s(w, r, system, plan, p, prof)

    # EP inside the TP group: the tokens are on every rank already; the TP all-reduce combines
    assert comm(Plan(tp=4, ep=4)) == comm(Plan(tp=4))
    assert Plan(tp=1, attn_dp=4, ep=4).dispatches and not Plan(tp=4, ep=4).dispatches
    assert comm(Plan(tp=1, attn_dp=4, ep=4)) > 0
    # dispatch + combine of each GPU's own routed rows (16 x 2 x 1024 x 2 bytes / 4 GPUs)
    many = replace(Plan(tp=1, attn_dp=4, ep=4), expert_imbalance=2.0)
    assert comm(many) > comm(Plan(tp=1, attn_dp=4, ep=4))


def test_memory_per_gpu_with_attention_dp():
    pre = ts.prefill(MOE, batch=16, seq=256)
    dec = ts.decode(MOE, batch=16, context=300)
    ws = InferenceWorkloads(pre, dec, dec, 64)
    system = round_system()
    tp4, ep4 = simulate_inference(ws, system, Plan(tp=4)), \
        simulate_inference(ws, system, Plan(tp=4, ep=4))
    adp = simulate_inference(ws, system, Plan(tp=1, attn_dp=4, ep=4))
    assert tp4.footprint.weights_bytes == ep4.footprint.weights_bytes
    assert adp.footprint.weights_bytes > tp4.footprint.weights_bytes    # dense whole per GPU
    p = Precision()
    dense_expert = weight_bytes_per_gpu(FACTS, Plan(tp=1, attn_dp=4, ep=4), p)
    assert dense_expert == pytest.approx(weight_bytes_per_gpu(FACTS, Plan(tp=1), p)
                                         - 0.75 * _expert_bytes(MOE))
    assert adp.gpus == 4 and adp.plan.serving_label() == "tp1 pp1 ep4 adp4"
    assert adp.decode_comm_s > 0 and ep4.decode_comm_s == tp4.decode_comm_s


def _expert_bytes(arch) -> float:
    return 3 * arch.hidden * arch.ffn * arch.experts * arch.layers * ts.E


def test_kv_cache_per_gpu_latent_gqa_and_uneven_stages():
    mla = replace(FACTS, kv_lora_rank=512, qk_rope_head_dim=64, heads=128, kv_heads=128)
    assert kv_split(mla, Plan(tp=8)) == 1                       # a whole latent on every rank
    assert kv_split(mla, Plan(tp=1, attn_dp=8, ep=8)) == 8      # each rank: its own sequences
    assert kv_split(mla, Plan(tp=2, attn_dp=4, ep=8)) == 4
    gqa = replace(FACTS, kv_heads=8, heads=64)
    assert kv_split(gqa, Plan(tp=8)) == 8 and kv_split(gqa, Plan(tp=16)) == 8
    llama = replace(FACTS, layers=126)
    assert kv_split(llama, Plan(pp=16)) == pytest.approx(126 / 8)   # the 8-layer stages
    assert kv_split(replace(FACTS, layers=8), Plan(pp=4)) == 4


def test_deepseek_v3_kv_bytes_per_token_per_gpu():
    from workloads import model_facts

    ds = model_facts("deepseek-v3")
    # 61 layers x (512 latent + 64 rotary key) x 2 bytes = 70,272 bytes per token, bf16
    assert ds.kv_bytes_per_token == 61 * 576 * 2 == 70_272
    assert ds.latent_kv and (ds.kv_lora_rank, ds.qk_rope_head_dim) == (512, 64)
    # TP8: every GPU keeps the whole latent of every sequence (vLLM, SGLang, TensorRT-LLM)
    assert ds.kv_bytes_per_token / kv_split(ds, Plan(tp=8)) == 70_272
    # attention DP over the 8 GPUs: each keeps its own sequences, 1/8 of the replica's tokens
    assert ds.kv_bytes_per_token / kv_split(ds, Plan(tp=1, attn_dp=8, ep=8)) == 8_784


def test_attention_dp_plans_are_checked_and_searched():
    with pytest.raises(PlanError, match="do not nest"):
        check_plan(Plan(tp=2, attn_dp=3, ep=4), FACTS, 8, 64, training=False)
    with pytest.raises(PlanError, match="needs 16 GPUs"):
        check_plan(Plan(tp=4, attn_dp=4, ep=4), FACTS, 8, 64, training=False)
    check_plan(Plan(tp=1, attn_dp=8, ep=8), FACTS, 8, 64, training=False)
    assert Plan(tp=2, attn_dp=4).gpus == 8 and Plan(tp=2, attn_dp=4).stage_gpus == 8
    plans = set(infer_space(4, 8, experts=8))
    assert Plan(tp=1, attn_dp=4, ep=4) in plans and Plan(tp=4, ep=4) in plans
    assert all(p.attn_dp == 1 for p in infer_space(4, 8, experts=0))
    ws = InferenceWorkloads(ts.prefill(MOE, 8, 128), *(2 * (ts.decode(MOE, 8, 160),)), 64)
    result = search_inference(ws, round_system(), gpus=4, attn_dp=(1, 4), ep=(1, 4))
    labels = {r.plan.serving_label() for r in result.ranked}
    assert {"tp4 pp1", "tp4 pp1 ep4", "tp1 pp1 ep4 adp4"} <= labels
    by = {r.plan.serving_label(): r for r in result.ranked}
    assert by["tp1 pp1 ep4 adp4"].memory_bytes_per_gpu != by["tp4 pp1 ep4"].memory_bytes_per_gpu
