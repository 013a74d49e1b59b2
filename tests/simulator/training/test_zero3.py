"""ZeRO-3 / FSDP layer by layer: hand-worked schedules of gathers, compute and reduce-scatters.

Units of time are seconds; each case lists when each collective arrives and each unit runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulator.parallel.plan import Overlap, Plan
from simulator.training import zero3
from simulator.training.step import evaluate
from tests.simulator.training.test_training import _prep


def _exposed(g, r, f, b, depth=1):
    return zero3.exposed_s(*(np.array(x, float) for x in (g, r, f, b)), depth)


def test_only_the_first_gather_and_the_last_reduce_scatter_show_when_compute_covers_the_rest():
    # Gathers 1 s, reduce-scatters 1 s, compute 2 s a unit each way, prefetch one unit ahead.
    # Forward: g0 arrives at 1, unit 0 runs 1-3 while g1 (1-2) arrives, unit 1 runs 3-5 (g2
    # 3-4), unit 2 runs 5-7: 1 s beyond the 6 s of compute.
    # Backward (units 2, 1, 0): g2 arrives 1, unit 2 runs 1-3 (g1 1-2), RS2 3-4; unit 1 runs
    # 3-5 (g0 4-5), RS1 5-6; unit 0 runs 5-7, RS0 7-8: 2 s beyond 6.
    assert _exposed([1, 1, 1], [1, 1, 1], [2, 2, 2], [2, 2, 2]) == pytest.approx(1.0 + 2.0)


def test_a_gather_longer_than_the_layer_before_it_waits_for_the_difference():
    # g1 = 3 s behind unit 0's 2 s: unit 1 starts at 4, not 3; g2 (4-5) is ready before unit 1
    # ends at 6; the pass ends at 8: 1 s (g0) + 1 s (g1 - unit 0). Backward: the same.
    assert _exposed([1, 3, 1], [0, 0, 0], [2, 2, 2], [2, 2, 2]) == pytest.approx(2.0 + 2.0)


def test_deeper_prefetch_hides_a_long_gather_behind_two_layers():
    # Forward, depth 1: g2 (3 s) is issued when unit 1 starts (3), arrives at 6, unit 2 waits
    # 1 s: 2 s exposed. Depth 2: g2 is issued when unit 0 starts (1), after g1 (1-2), arrives
    # at 5 = when unit 1 ends: 1 s exposed. Backward (gathers 1, 3, 1, 1), depth 1: unit 1
    # waits for its gather (1-4): 2 s; depth 2: g1 arrives at 4, unit 1 still waits 1 s: 2 s.
    g, f = [1, 1, 3, 1], [2, 2, 2, 2]
    zeros = [0, 0, 0, 0]
    assert _exposed(g, zeros, f, f, 1) == pytest.approx(2.0 + 2.0)
    assert _exposed(g, zeros, f, f, 2) == pytest.approx(1.0 + 2.0)


def test_a_communication_bound_pass_takes_the_network_time():
    # Gathers 3 s, compute 1 s: the network is busy 9 s, the last unit ends 1 s after it:
    # 10 - 3 = 7 s exposed in each pass.
    assert _exposed([3, 3, 3], [0, 0, 0], [1, 1, 1], [1, 1, 1]) == pytest.approx(7.0 + 7.0)


def test_the_plan_prices_zero3_per_layer_and_prefetch_depth_costs_memory():
    prep = _prep(nodes=2, ideal=False)
    plan = Plan(dp=16, zero=3, global_batch=16)
    r = evaluate(prep, plan)
    deeper = evaluate(prep, plan.with_(overlap=Overlap(zero_prefetch_layers=2)))
    none = evaluate(prep, plan.with_(overlap=Overlap(zero_prefetch=False)))
    b = r.breakdown_s
    assert 0 < b["zero3_exposed_s"] <= none.breakdown_s["zero3_exposed_s"]
    assert deeper.breakdown_s["zero3_exposed_s"] <= b["zero3_exposed_s"]
    assert deeper.footprint.weights_bytes > r.footprint.weights_bytes
    with pytest.raises(ValueError, match="zero_prefetch_layers"):
        Overlap(zero_prefetch_layers=0)
