"""Training on a parallel plan: golden cases on a round-number system, worked in comments.

The system (tests.simulator.transformer_synthetic.round_system): 8 devices per node on a
100 GB/s switch at efficiency 0.5 (B = 50 GB/s, alpha 1 us), 25 GB/s per device across nodes.
Speed of light (`ideal`): no kernel overheads, so the collectives cost alpha-beta alone.
"""

from __future__ import annotations

import pytest

from simulator.core.cost import training_run
from simulator.core.memory import Recompute
from simulator.core.options import Options
from simulator.core.simulate import simulate
from simulator.parallel.plan import Overlap, Plan
from simulator.training.step import evaluate, prepare
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system

ARCH = ts.Arch(layers=4, hidden=1024, heads=16, kv_heads=16, ffn=4096, vocab=32000)
T = 256                                  # tokens per micro-batch (batch 1 x seq 256)
S = T * ARCH.hidden * 2                  # one block output in bf16: 524,288 bytes
B, ALPHA = 50e9, 1e-6


def _prep(nodes=1, ideal=True, arch=ARCH, link=1.0):
    return prepare(ts.train(arch, 1, T), round_system(nodes, link=link),
                   Options(ideal=ideal))


def test_one_gpu_plan_is_the_single_device_simulation_with_no_communication():
    w = ts.train(ARCH, 1, T)
    system = round_system()
    for rc in Recompute:
        r = evaluate(prepare(w, system), Plan(recompute=rc))
        single = simulate(w, system.device, Options(recompute=rc))
        assert r.step_time_s == pytest.approx(single.time_s, rel=1e-9)
        assert r.breakdown_s["comm_s"] == 0.0 and r.breakdown_s["exposed_comm_s"] == 0.0
        assert r.mfu == pytest.approx(single.mfu, rel=1e-9)
        assert r.hfu == pytest.approx(single.hfu, rel=1e-9)


def test_tensor_parallel_all_reduces_twice_per_layer_each_way():
    # Per micro-batch: 2 all-reduces per layer in forward, 2 in backward, plus the embedding's
    # in forward and the vocabulary projection's input gradient in backward: 4 x 4 + 2 = 18.
    # Ring over 2 devices: 2 (1/2) S / B + 2 alpha = 10.486 us + 2 us each.
    r = evaluate(_prep(), Plan(tp=2))
    one = S / B + 2 * ALPHA
    assert r.breakdown_s["tp_exposed_s"] == pytest.approx(18 * one, rel=1e-9)
    # Sequence parallelism: a reduce-scatter and an all-gather of the same bytes instead,
    # (1/2) S / B + alpha each: the same time on a ring.
    sp = evaluate(_prep(), Plan(tp=2, sp=True))
    assert sp.breakdown_s["tp_exposed_s"] == pytest.approx(18 * one, rel=1e-9)
    # Full recompute runs the forward (and its all-reduces) again: 18 + 9 calls.
    rc = evaluate(_prep(), Plan(tp=2, recompute=Recompute.FULL))
    assert rc.breakdown_s["tp_exposed_s"] == pytest.approx(27 * one, rel=1e-9)


def test_data_parallel_gradient_all_reduce_without_overlap():
    # One all-reduce per slot (embedding, 4 layers, head): every parameter's bf16 gradient
    # once: 2 (1/2) (2 P) / B + 6 x 2 alpha over 2 devices.
    params = ts.facts(ARCH).params
    r = evaluate(_prep(), Plan(dp=2, global_batch=2, overlap=Overlap(dp=False)))
    assert r.breakdown_s["dp_exposed_s"] == pytest.approx(2 * params / B + 12 * ALPHA,
                                                          rel=1e-6)
    hidden = evaluate(_prep(), Plan(dp=2, global_batch=2))
    assert hidden.breakdown_s["dp_exposed_s"] < r.breakdown_s["dp_exposed_s"]
    assert hidden.step_time_s < r.step_time_s


def test_pipeline_bubble_and_step():
    # pp = 2, m = 4 micro-batches: the pipeline takes (m + p - 1) T, its bubble (p - 1) T.
    r = evaluate(_prep(), Plan(pp=2, global_batch=4))
    tail = r.breakdown_s["optimizer_s"] + r.breakdown_s["dp_exposed_s"]
    pipeline = r.step_time_s - tail
    assert r.bubble_fraction == pytest.approx(1 / 5)
    assert r.breakdown_s["bubble_s"] == pytest.approx(pipeline / 5, rel=1e-9)
    assert r.breakdown_s["p2p_exposed_s"] > 0
    v2 = evaluate(_prep(), Plan(pp=2, vp=2, global_batch=4))
    assert v2.bubble_fraction == pytest.approx(1 / 9)


def test_zero_stages_shard_optimizer_then_gradients_then_weights():
    prep = _prep()
    fp = [evaluate(prep, Plan(dp=4, zero=z, global_batch=4)).footprint for z in range(4)]
    assert fp[1].optimizer_bytes == pytest.approx(fp[0].optimizer_bytes / 4)
    assert fp[1].gradient_bytes == fp[0].gradient_bytes
    assert fp[2].gradient_bytes == pytest.approx(fp[0].gradient_bytes / 4)
    assert fp[2].weights_bytes == fp[0].weights_bytes
    # ZeRO-3: a quarter of the bf16 weights, plus the gathered unit in use and the prefetched
    # one (the largest unit is the embedding, vocab x hidden = 32.8M parameters); a quarter of
    # the bf16 gradients plus the unsharded ones of the unit computing and the unit being
    # reduce-scattered.
    facts = ts.facts(ARCH)
    unit = ARCH.vocab * ARCH.hidden
    assert fp[3].weights_bytes == pytest.approx(2 * facts.params / 4 + 2 * 2 * unit)
    assert fp[3].gradient_bytes == pytest.approx(2 * facts.params / 4 + 2 * 2 * unit)
    assert [f.total_bytes for f in fp[:3]] == sorted((f.total_bytes for f in fp[:3]),
                                                     reverse=True)
    # On 4 small layers the gathered units (the embedding twice, its gradient twice) outweigh
    # the 3/4 of the weights ZeRO-3 shards away: 4 x 65.5 MB > 0.75 x 265 MB.
    assert fp[3].total_bytes > fp[2].total_bytes
    z3 = evaluate(prep, Plan(dp=4, zero=3, global_batch=4))
    assert z3.breakdown_s["zero3_exposed_s"] > 0


def test_memory_per_gpu_follows_tp_pp_and_recompute():
    prep = _prep()
    base = evaluate(prep, Plan()).footprint
    tp = evaluate(prep, Plan(tp=4)).footprint
    assert tp.weights_bytes == pytest.approx(base.weights_bytes / 4)
    full = evaluate(prep, Plan(recompute=Recompute.FULL)).footprint
    assert full.activation_bytes < base.activation_bytes
    # 1F1B: the first of 4 stages holds 4 micro-batches of its layers' activations.
    pp = evaluate(prep, Plan(pp=4, global_batch=8))
    assert pp.peak_stage == 0 and pp.footprint.weights_bytes < base.weights_bytes / 2


def test_out_of_memory_is_a_result_not_an_error():
    big = ts.Arch(layers=8, hidden=8192, heads=64, kv_heads=8, ffn=28672, vocab=32000)
    r = evaluate(_prep(arch=big), Plan())
    assert not r.feasible
    assert r.memory_bytes_per_gpu > r.footprint.capacity_bytes == 100e9


def test_context_and_expert_parallel_add_their_collectives():
    r = evaluate(_prep(), Plan(tp=2, cp=2))
    assert r.breakdown_s["comm_s"] > evaluate(_prep(), Plan(tp=2)).breakdown_s["comm_s"]
    moe = ts.Arch(layers=2, hidden=512, heads=8, kv_heads=8, ffn=1024, vocab=1000, experts=8,
                  top_k=2)
    prep = _prep(arch=moe)
    inside = evaluate(prep, Plan(tp=2, ep=2, dp=2, global_batch=2))
    across = evaluate(prep, Plan(tp=2, ep=4, dp=2, global_batch=2))
    assert inside.breakdown_s["ep_s"] == 0.0 and across.breakdown_s["ep_s"] > 0.0
    assert across.footprint.weights_bytes < inside.footprint.weights_bytes


def test_overlap_only_hides_communication():
    prep = _prep(ideal=False)
    for plan in (Plan(tp=2, dp=2, zero=1, global_batch=4), Plan(dp=4, zero=3, global_batch=4)):
        r = evaluate(prep, plan)
        b = r.breakdown_s
        assert 0 <= b["exposed_comm_s"] <= b["comm_s"]
        shown = evaluate(prep, plan.with_(overlap=Overlap(dp=False, zero_prefetch=False)))
        assert shown.breakdown_s["exposed_comm_s"] >= b["exposed_comm_s"]
    tp = evaluate(prep, Plan(tp=4, overlap=Overlap(tp=True)))
    assert tp.breakdown_s["tp_exposed_s"] < evaluate(prep, Plan(tp=4)).breakdown_s["tp_exposed_s"]


def test_days_and_dollars_to_train():
    r = evaluate(_prep(ideal=False), Plan(dp=8, global_batch=64), train_tokens=1e9)
    days, usd = training_run(r.step_time_s, r.tokens_per_step, 1e9, r.cost.usd_per_hour)
    assert (r.days, r.usd) == (pytest.approx(days), pytest.approx(usd))
    assert r.cost.usd_per_hour == pytest.approx(8 * 3.6)     # 8 round devices at $3.60/hour
    s = r.summary()
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu", "memory_bytes_per_gpu",
                "feasible", "days", "usd"):
        assert key in s


def test_a_training_step_needs_a_train_workload():
    with pytest.raises(ValueError, match="train-phase workload"):
        prepare(ts.prefill(ARCH), round_system())
