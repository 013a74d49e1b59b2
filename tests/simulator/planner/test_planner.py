"""Plan search: every plan priced, the feasible ones ranked, the rest refused with reasons."""

from __future__ import annotations

import pytest

from simulator.core.memory import Recompute
from simulator.inference.request import InferenceWorkloads, decode_context
from simulator.planner.search import (
    TrainSpace,
    infer_space,
    search_inference,
    search_training,
    train_space,
)
from simulator.training.step import evaluate, prepare
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system

ARCH = ts.Arch(layers=8, hidden=2048, heads=16, kv_heads=8, ffn=8192, vocab=32000)


def test_the_space_is_every_combination_on_exactly_the_gpus():
    plans = list(train_space(16, 64, devices_per_node=8, space=TrainSpace(
        zero=(0, 3), recompute=(Recompute.NONE,))))
    assert all(p.gpus == 16 and p.batch == 64 for p in plans)
    assert {p.tp for p in plans} == {1, 2, 4, 8}                 # within one node
    assert {p.pp for p in plans} == {1, 2, 4, 8, 16}
    assert not any(p.sp and p.tp == 1 for p in plans)
    # tp x pp pairs that fit 16 GPUs (11), x 2 ZeRO x micro-batches up to 64 / dp, x sp.
    assert len(plans) == len({(p.tp, p.pp, p.zero, p.micro_batch, p.sp) for p in plans})


def test_search_ranks_feasible_plans_and_explains_the_rest():
    prep = prepare(ts.train(ARCH, 1, 1024), round_system(nodes=2))
    result = search_training(prep, gpus=16, global_batch=32)
    assert result.ranked and result.evaluated == len(result.ranked) + len(result.refused)
    speeds = [r.tokens_per_s for r in result.ranked]
    assert speeds == sorted(speeds, reverse=True)
    assert all(r.feasible for r in result.ranked)
    kinds = {kind for kind, _, _ in result.refusal_counts()}
    assert "layers" in kinds                      # pp = 16 on 8 layers
    best = result.ranked[0]
    assert evaluate(prep, best.plan).step_time_s == pytest.approx(best.step_time_s)
    for refusal in result.refused:
        assert refusal.reason


def test_memory_refusals_say_how_much():
    big = ts.Arch(layers=8, hidden=8192, heads=64, kv_heads=8, ffn=28672, vocab=32000)
    prep = prepare(ts.train(big, 1, 1024), round_system())
    result = search_training(prep, gpus=8, global_batch=8, space=TrainSpace(zero=(0,)))
    memory = [r for r in result.refused if r.kind == "memory"]
    assert memory and "out of memory: needs" in memory[0].reason


def test_cost_objective_ranks_by_dollars_per_token():
    prep = prepare(ts.train(ARCH, 1, 1024), round_system())
    result = search_training(prep, gpus=8, global_batch=16, objective="cost")
    costs = [r.cost.usd_per_1m_tokens for r in result.ranked]
    assert costs == sorted(costs)
    with pytest.raises(ValueError, match="unknown objective"):
        search_training(prep, gpus=8, global_batch=16, objective="speed")
    with pytest.raises(ValueError, match="gpus must be between 1 and the 8"):
        search_training(prep, gpus=16, global_batch=16)


def test_inference_search():
    arch = ts.Arch(layers=6, hidden=2048, heads=16, kv_heads=8, ffn=8192, vocab=32000)
    decode = ts.decode(arch, 8, decode_context(512, 64))
    ws = InferenceWorkloads(ts.prefill(arch, 8, 512), decode, decode, 64)
    assert {(p.tp, p.pp) for p in infer_space(4, 8, 0)} == {
        (1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (4, 1)}
    result = search_inference(ws, round_system(), gpus=8)
    per_gpu = [r.tokens_per_s_per_gpu for r in result.ranked]
    assert per_gpu == sorted(per_gpu, reverse=True)
    # 6 layers: pp 4 runs as stages of 1, 2, 2, 1 layers; pp 8 is more stages than layers
    assert {r.plan.pp for r in result.refused if r.kind == "layers"} == {8}
    assert any(r.plan.pp == 4 for r in result.ranked)
    assert result.ranked[0].plan.gpus <= 8
