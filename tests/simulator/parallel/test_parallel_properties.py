"""Properties of parallel plans (hypothesis): faster links never slow a plan, more
micro-batches never grow the bubble, exposed communication never exceeds communication."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.memory import Recompute
from simulator.core.options import Options
from simulator.parallel.pipeline import bubble_fraction
from simulator.parallel.plan import Plan
from simulator.training.step import evaluate, prepare
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system

ARCH = ts.Arch(layers=8, hidden=1024, heads=16, kv_heads=8, ffn=4096, vocab=32000)
WORKLOAD = ts.train(ARCH, 1, 512)
PLANS = [Plan(tp=2, pp=2, dp=4, global_batch=16), Plan(tp=8, sp=True, dp=2, global_batch=8),
         Plan(dp=16, zero=3, global_batch=32, micro_batch=2), Plan(tp=4, cp=2, dp=2, zero=1),
         Plan(pp=4, vp=2, dp=4, global_batch=32, recompute=Recompute.FULL),
         Plan(tp=2, dp=8, zero=2, global_batch=16)]


@settings(max_examples=40, deadline=None)
@given(plan=st.sampled_from(PLANS), factor=st.floats(min_value=1.0, max_value=32.0),
       ideal=st.booleans())
def test_a_faster_link_never_slows_a_plan(plan, factor, ideal):
    options = Options(ideal=ideal)
    base = evaluate(prepare(WORKLOAD, round_system(nodes=2), options), plan)
    fast = evaluate(prepare(WORKLOAD, round_system(nodes=2, link=factor), options), plan)
    assert fast.step_time_s <= base.step_time_s * (1 + 1e-12)
    assert fast.breakdown_s["comm_s"] <= base.breakdown_s["comm_s"] * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(p=st.integers(1, 64), m=st.integers(1, 512), more=st.integers(1, 512),
       v=st.integers(1, 8))
def test_more_micro_batches_never_grow_the_bubble(p, m, more, v):
    assert bubble_fraction(p, m + more, v) <= bubble_fraction(p, m, v)
    assert bubble_fraction(p, m, v + 1) <= bubble_fraction(p, m, v)
    assert bubble_fraction(1, m, v) == 0.0


@settings(max_examples=30, deadline=None)
@given(plan=st.sampled_from(PLANS), mb=st.sampled_from([1, 2]))
def test_exposed_communication_is_part_of_communication(plan, mb):
    plan = plan.with_(micro_batch=mb, global_batch=plan.batch * mb)
    r = evaluate(prepare(WORKLOAD, round_system(nodes=2)), plan)
    b = r.breakdown_s
    assert 0.0 <= b["exposed_comm_s"] <= b["comm_s"] * (1 + 1e-12)
    parts = sum(v for k, v in b.items() if k not in ("comm_s", "exposed_comm_s"))
    assert parts <= r.step_time_s * (1 + 1e-9)
