"""Parallel plans: refusals with reasons, the pipeline formulas, and how a plan shards kernels."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.core.arrays import to_arrays
from simulator.parallel.pipeline import bubble_fraction, in_flight, pipeline_time_s, stage_of_slot
from simulator.parallel.plan import Plan, PlanError, Schedule, check_plan
from simulator.parallel.roles import DIM_K, DIM_M, DIM_N, ON_DIM, REPLICATED, WHOLE, roles_of
from simulator.parallel.sharding import ShardSpec, shard
from simulator.parallel.systems import data_parallel, system_for_gpus
from tests.simulator import transformer_synthetic as ts

ARCH = ts.Arch(layers=4, hidden=1024, heads=16, kv_heads=4, ffn=4096, vocab=32000)
FACTS = ts.facts(ARCH)


@pytest.mark.parametrize("plan, kind, words", [
    (Plan(tp=3), "heads", "tp=3 does not divide the 16 attention heads"),
    (Plan(tp=8, dp=1), "kv_heads", "the 12 KV heads"),
    (Plan(pp=2, pp_layers=(1, 2)), "layers", "add up to 3 layers; synthetic-llama has 4"),
    (Plan(pp=2, vp=2, pp_layers=(2, 2)), "vp", "uneven pipeline stages"),
    (Plan(attn_dp=2), "attn_dp", "attention data parallelism is an inference plan"),
    (Plan(pp=8), "layers", "more pipeline stages than the 4 layers"),
    (Plan(tp=2, pp=2, dp=4), "gpus", "needs 16 GPUs"),
    (Plan(ep=2), "experts", "needs a mixture-of-experts model"),
    (Plan(dp=2, micro_batch=2, global_batch=6), "batch", "global batch 6 is not a multiple"),
    (Plan(sp=True), "sp", "needs tp > 1"),
    (Plan(cp=3), "sequence", "cp=3 does not divide the sequence"),
    (Plan(pp=2, vp=4), "layers", "pp x vp = 8 does not divide the 4 layers"),
    (Plan(pp=2, vp=2, global_batch=3), "micro_batches", "multiple of pp=2"),
])
def test_impossible_plans_are_refused_with_the_reason(plan, kind, words):
    facts = replace(FACTS, heads=24, kv_heads=12) if kind == "kv_heads" else FACTS
    with pytest.raises(PlanError) as err:
        check_plan(plan, facts, num_devices=8, seq=2048)
    assert err.value.kind == kind and words in str(err.value)


def test_possible_plans_pass_and_count_their_gpus():
    plan = Plan(tp=4, pp=2, dp=1, micro_batch=2, global_batch=8)
    check_plan(plan, FACTS, num_devices=8, seq=2048)
    assert (plan.gpus, plan.micro_batches, plan.pipeline_schedule) == (8, 4, Schedule.ONE_F_ONE_B)
    assert Plan(pp=2, vp=2).pipeline_schedule is Schedule.INTERLEAVED
    assert data_parallel(64, tp=8, pp=2) == 4
    with pytest.raises(ValueError, match="not a multiple of tp x pp x cp = 24"):
        data_parallel(64, tp=8, pp=3)


@pytest.mark.parametrize("bad", [dict(tp=0), dict(zero=4), dict(expert_imbalance=0.5),
                                 dict(vp=2, schedule=Schedule.ONE_F_ONE_B), dict(dp=1.5),
                                 dict(attn_dp=0), dict(pp=2, pp_layers=(1, 2, 1)),
                                 dict(pp=2, pp_layers=(0, 4))])
def test_malformed_plans_raise_one_sentence(bad):
    with pytest.raises(ValueError):
        Plan(**bad)


def test_one_f_one_b_bubble_is_p_minus_1_over_m_plus_p_minus_1():
    # p = 4 stages, m = 8 micro-batches: bubble 3 / 11; step = (m + p - 1) T = 11 T.
    assert bubble_fraction(4, 8) == pytest.approx(3 / 11)
    step, bubble = pipeline_time_s(2.0, p=4, m=8)
    assert (step, bubble) == (pytest.approx(22.0), pytest.approx(6.0))
    assert bubble / step == pytest.approx(bubble_fraction(4, 8))
    # Interleaving v = 2 halves the bubble: 3 T / 2 of a (8 + 1.5) T step.
    step, bubble = pipeline_time_s(2.0, p=4, m=8, v=2)
    assert bubble / step == pytest.approx(bubble_fraction(4, 8, 2)) == pytest.approx(3 / 19)


def test_in_flight_micro_batches_and_stage_layout():
    assert in_flight(Plan(pp=4, dp=1, global_batch=16)) == 4           # 1F1B: p
    assert in_flight(Plan(pp=4, dp=1, global_batch=2)) == 2            # at most m
    assert in_flight(Plan(pp=4, vp=2, global_batch=16)) == pytest.approx(4 + 3 / 2)
    # 8 layers on 4 stages: embedding with the first, the head with the last.
    assert list(stage_of_slot(8, 4)) == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def _row(w, module, pass_name="forward", first=True):
    rows = [i for i, op in enumerate(w.ops) if op.module == module and op.pass_.value == pass_name]
    return rows[0] if first else rows


def test_roles_follow_megatron_layout():
    w = ts.train(ARCH, batch=1, seq=256)
    r = roles_of(w)
    q, o = _row(w, "model.layers.0.self_attn.q_proj"), _row(w, "model.layers.0.self_attn.o_proj")
    assert (r.tp_mode[q], r.tp_dim[q], r.tok_dim[q]) == (ON_DIM, DIM_N, DIM_M)   # column
    assert (r.tp_mode[o], r.tp_dim[o]) == (ON_DIM, DIM_K)                        # row
    dx, dw = _row(w, "model.layers.0.self_attn.q_proj", "backward", first=False)
    assert (r.tp_dim[dx], r.tok_dim[dx]) == (DIM_K, DIM_M)     # dX = dY W: splits the reduction
    assert (r.tp_dim[dw], r.tok_dim[dw]) == (DIM_M, DIM_K)     # dW = dY^T X: reduces over tokens
    norm = _row(w, "model.layers.0.input_layernorm")
    assert r.tp_mode[norm] == REPLICATED and r.sp[norm]
    assert r.tp_mode[_row(w, "model.layers.0.mlp.act_fn")] == WHOLE
    assert r.kv_cap[_row(w, "model.layers.0.self_attn.k_proj")] == 4
    # The all-reduce after each row-parallel output: two per layer, T x h x 2 bytes each.
    assert np.count_nonzero(r.tp_fwd_bytes) == 2 * ARCH.layers + 1      # + the embedding
    assert r.tp_fwd_bytes[o] == 256 * 1024 * 2
    assert list(r.slot[[0, q, len(w.ops) - 1]]) == [0, 1, ARCH.layers + 1]


def test_a_transformers_tp_plan_overrides_the_rules():
    w = ts.train(ARCH, batch=1, seq=256)
    r = roles_of(w, {"layers.*.self_attn.q_proj": "rowwise"})
    q = _row(w, "model.layers.2.self_attn.q_proj")
    assert (r.tp_mode[q], r.tp_dim[q]) == (ON_DIM, DIM_K)


def test_tensor_parallel_splits_gemm_operands_exactly():
    w = ts.train(ARCH, batch=1, seq=256)
    a, r = to_arrays(w), roles_of(w)
    s = shard(a, r, ShardSpec(tp=4))
    q, o = _row(w, "model.layers.0.self_attn.q_proj"), _row(w, "model.layers.0.self_attn.o_proj")
    # Column-parallel forward: whole input, a quarter of the weight and of the output.
    assert s.flops[q] == a.flops[q] / 4 and s.weight_read_bytes[q] == a.weight_read_bytes[q] / 4
    assert s.act_read_bytes[q] == a.act_read_bytes[q] and s.n[q] == a.n[q] / 4
    assert s.act_write_bytes[q] == a.act_write_bytes[q] / 4
    # Row-parallel forward: a quarter of the input, the whole (partial-sum) output.
    assert s.act_read_bytes[o] == a.act_read_bytes[o] / 4 and s.k[o] == a.k[o] / 4
    assert s.act_write_bytes[o] == a.act_write_bytes[o]
    # K/V projections split at most kv_heads = 4 ways: at tp = 8 ranks hold copies.
    k = _row(w, "model.layers.0.self_attn.k_proj")
    s8 = shard(a, r, ShardSpec(tp=8))
    assert s8.weight_read_bytes[k] == a.weight_read_bytes[k] / 4
    # Norms stay whole without sequence parallelism and split with it.
    norm = _row(w, "model.layers.0.input_layernorm")
    assert s.flops[norm] == a.flops[norm]
    assert shard(a, r, ShardSpec(tp=4, sp=True)).flops[norm] == a.flops[norm] / 4


def test_token_factor_equals_tracing_the_bigger_batch():
    one, three = ts.train(ARCH, batch=1, seq=256), ts.train(ARCH, batch=3, seq=256)
    scaled = shard(to_arrays(one), roles_of(one), ShardSpec(token_factor=3))
    direct = to_arrays(three)
    for column in ("flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
                   "other_bytes"):
        np.testing.assert_allclose(getattr(scaled, column), getattr(direct, column), rtol=1e-12)
    np.testing.assert_allclose(scaled.m * scaled.n * scaled.k, direct.m * direct.n * direct.k)


def test_context_parallel_splits_queries_not_keys():
    w = ts.train(ARCH, batch=1, seq=256)
    a = to_arrays(w)
    s = shard(a, roles_of(w), ShardSpec(cp=4))
    attn = [i for i, op in enumerate(w.ops) if op.kind.value == "attention"][0]
    assert s.m[attn] == a.m[attn] / 4 and s.n[attn] == a.n[attn]
    assert s.flops[attn] == pytest.approx(a.flops[attn] / 4)
    q = _row(w, "model.layers.0.self_attn.q_proj")
    assert s.weight_read_bytes[q] == a.weight_read_bytes[q]   # every rank reads all weights


def test_zero_splits_the_optimizer_step():
    w = ts.train(ARCH, batch=1, seq=256)
    a, r = to_arrays(w), roles_of(w)
    opt = r.optimizer
    base = shard(a, r, ShardSpec(tp=2)).total_bytes[opt].sum()
    zero = shard(a, r, ShardSpec(tp=2, optimizer_shards=4)).total_bytes[opt].sum()
    assert zero == pytest.approx(base / 4)


def test_expert_parallel_spreads_expert_weights():
    moe = ts.Arch(layers=2, hidden=512, heads=8, kv_heads=8, ffn=1024, vocab=1000, experts=8,
                  top_k=2)
    w = ts.train(moe, batch=1, seq=128)
    a, r = to_arrays(w), roles_of(w)
    experts = r.expert & ~r.optimizer
    assert experts.any()
    tp2 = shard(a, r, ShardSpec(tp=2))
    ep8 = shard(a, r, ShardSpec(tp=2, ep=8, expert_imbalance=1.5))
    assert ep8.weight_read_bytes[experts].sum() == pytest.approx(
        tp2.weight_read_bytes[experts].sum() / 4)
    assert ep8.flops[experts].sum() == pytest.approx(1.5 * tp2.flops[experts].sum())
    gate = _row(w, "model.layers.0.mlp.gate")
    assert r.tp_mode[gate] == REPLICATED    # the router is not split
    # Each MoE block's output is all-reduced over TP like a dense MLP's: T x h x 2 bytes.
    moe_out = r.tp_fwd_bytes[r.ep_bytes > 0]
    assert list(moe_out) == [128 * 512 * 2] * moe.layers
    assert np.count_nonzero(r.tp_fwd_bytes) == 2 * moe.layers + 1


def test_a_system_grows_to_hold_the_gpus_a_plan_asks_for():
    assert system_for_gpus("dgx-h100", None).num_devices == 8
    two = system_for_gpus("dgx-h100", 16)
    assert (two.num_devices, two.nodes, len(two.levels)) == (16, 2, 2)
    four = system_for_gpus("h100-sxm", 4)
    assert (four.num_devices, four.devices_per_node) == (4, 4)
    with pytest.raises(ValueError, match="fewer than --gpus 16"):
        system_for_gpus("dgx-h100:nodes=1", 16)
