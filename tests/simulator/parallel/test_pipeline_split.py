"""Uneven pipeline stages: the default split, an explicit one, and a step priced from it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.parallel.params import param_slots, stage_params_per_gpu
from simulator.parallel.pipeline import per_stage, stage_layers, stage_of_slot
from simulator.parallel.plan import Plan, PlanError, check_plan
from simulator.training.step import evaluate, prepare, spec_for
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system


def test_llama_3_405b_pp16_split_is_the_published_one():
    # Llama 3 paper, section 3.3.2: 126 layers on 16 stages, one layer fewer on the first and
    # the last stage (which also hold the embedding and the output head).
    assert stage_layers(126, 16) == (7,) + (8,) * 14 + (7,)
    facts = replace(ts.facts(ts.Arch()), layers=126, name="llama-3.1-405b")
    check_plan(Plan(tp=8, pp=16), facts, num_devices=128, seq=8192)
    assert stage_layers(80, 4) == (20, 20, 20, 20)            # divisible: even
    assert stage_layers(61, 8) == (7, 7, 8, 8, 8, 8, 8, 7)     # DeepSeek-V3: inward from the ends


@pytest.mark.parametrize("layers", [1, 2, 3, 5, 7, 12, 61, 126])
def test_every_pp_up_to_the_layers_splits_as_evenly_as_possible(layers):
    for pp in range(1, layers + 1):
        split = stage_layers(layers, pp)
        assert len(split) == pp and sum(split) == layers and min(split) >= 1
        assert max(split) - min(split) <= 1
        # the short stages: the first, the last, the second, the second last, ...
        inward = [i // 2 if i % 2 == 0 else pp - 1 - i // 2 for i in range(pp)]
        short = [i for i, n in enumerate(split) if n < max(split)]
        assert sorted(short) == sorted(inward[:len(short)])
        stage = stage_of_slot(layers, pp)
        assert stage[0] == 0 and stage[-1] == pp - 1
        assert np.bincount(stage[1:-1], minlength=pp).tolist() == list(split)


def test_an_explicit_split_is_used_and_checked():
    assert list(stage_of_slot(6, 3, (1, 2, 3))) == [0, 0, 1, 1, 2, 2, 2, 2]
    facts = ts.facts(ts.Arch(layers=6))
    with pytest.raises(PlanError, match="add up to 5 layers"):
        check_plan(Plan(pp=2, pp_layers=(2, 3)), facts, 8, 256)
    with pytest.raises(ValueError, match="lists 3 stages but pp=2"):
        Plan(pp=2, pp_layers=(2, 2, 2))
    with pytest.raises(PlanError, match="more pipeline stages than the 6 layers"):
        check_plan(Plan(pp=7), facts, 8, 256)


def test_stage_params_follow_the_split():
    arch = ts.Arch(layers=6)
    p = param_slots(ts.facts(arch))
    even = stage_params_per_gpu(p, 6, Plan(pp=4))                    # 1, 2, 2, 1 layers
    body = p.dense[1]
    assert even[1] == pytest.approx(2 * body) and even[0] == pytest.approx(p.dense[0] + body)
    skew = stage_params_per_gpu(p, 6, Plan(pp=4, pp_layers=(3, 1, 1, 1)))
    assert skew[0] == pytest.approx(p.dense[0] + 3 * body) and skew.sum() == pytest.approx(
        even.sum())


def test_uneven_training_step_is_paced_by_its_slowest_stage():
    w = ts.train(ts.Arch(layers=6, hidden=512, heads=8, kv_heads=8, ffn=1024, vocab=4000), 1,
                 256)
    prep = prepare(w, round_system())
    m = 8
    reports = {}
    for split in (None, (1, 2, 2, 1), (3, 1, 1, 1)):
        plan = Plan(pp=4, global_batch=m, pp_layers=split)
        r = evaluate(prep, plan)
        st = prep.slot_times(spec_for(prep, plan))
        stages = per_stage(st.fwd_s + st.bwd_s, 6, 4, split)
        crit = float(stages.max())
        assert r.breakdown_s["compute_s"] == pytest.approx(m * crit)
        assert r.breakdown_s["bubble_s"] == pytest.approx(3 * (r.step_time_s - r.breakdown_s[
            "bubble_s"] - r.breakdown_s["optimizer_s"] - r.breakdown_s["dp_exposed_s"]) / m,
            rel=1e-9)
        reports[split] = r
    assert reports[None].step_time_s == pytest.approx(reports[(1, 2, 2, 1)].step_time_s)
    assert reports[(3, 1, 1, 1)].step_time_s > reports[None].step_time_s   # a 3-layer stage
    assert reports[(3, 1, 1, 1)].peak_stage == 0
