"""Properties of the collective cost model (hypothesis), on the round system of 4 nodes x 8."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.comm.collectives import algorithms
from simulator.comm.costs import KINDS, collective_costs, collective_models, collective_time_s
from tests.simulator.comm.test_comm import round_system

NODES = 4
SYSTEMS = {(sharp, topo): round_system(nodes=NODES, sharp=sharp, topology=topo)
           for sharp in (False, True) for topo in ("switch", "fully_connected")}


@st.composite
def groups(draw):
    """(group_size, stride) that fit in 32 devices."""
    n = draw(st.integers(min_value=1, max_value=8 * NODES))
    max_stride = max(1, (8 * NODES - 1) // max(n - 1, 1))
    return n, draw(st.integers(min_value=1, max_value=max_stride))


common = dict(kind=st.sampled_from(KINDS), group=groups(), sharp=st.booleans(),
              topo=st.sampled_from(["switch", "fully_connected"]),
              size=st.floats(min_value=0.0, max_value=1e11))


def _applicable(kind, n, stride, system):
    return ["auto", *collective_models(system, kind, n, stride)[1]]


@settings(max_examples=150, deadline=None)
@given(k=st.floats(min_value=1.0, max_value=20.0), **common)
def test_a_faster_link_never_slows_a_collective(kind, group, sharp, topo, size, k):
    n, stride = group
    slow = SYSTEMS[(sharp, topo)]
    fast = round_system(nodes=NODES, sharp=sharp, topology=topo, link=k)
    for algo in _applicable(kind, n, stride, slow):
        before = collective_time_s(slow, kind, size, n, stride, algo).time_s
        after = collective_time_s(fast, kind, size, n, stride, algo).time_s
        assert after <= before * (1 + 1e-12)


@settings(max_examples=150, deadline=None)
@given(more=st.floats(min_value=0.0, max_value=1e11), **common)
def test_more_bytes_never_speed_a_collective_up(kind, group, sharp, topo, size, more):
    n, stride = group
    system = SYSTEMS[(sharp, topo)]
    for algo in _applicable(kind, n, stride, system):
        small = collective_time_s(system, kind, size, n, stride, algo)
        big = collective_time_s(system, kind, size + more, n, stride, algo)
        assert big.time_s >= small.time_s
        assert big.sent_bytes >= small.sent_bytes


@settings(max_examples=150, deadline=None)
@given(**common)
def test_time_and_bytes_are_non_negative_and_vectorized_matches_scalar(kind, group, sharp,
                                                                        topo, size):
    n, stride = group
    system = SYSTEMS[(sharp, topo)]
    sizes = np.array([[0.0, size], [size / 3, size * 7]])
    arr = collective_costs(system, kind, sizes, n, stride)
    assert arr.time_s.shape == sizes.shape
    assert np.all(arr.time_s >= 0) and np.all(arr.sent_bytes >= 0)
    for idx in np.ndindex(sizes.shape):
        one = collective_time_s(system, kind, float(sizes[idx]), n, stride)
        assert one.time_s == arr.time_s[idx] or np.isclose(one.time_s, arr.time_s[idx],
                                                            rtol=1e-12)
        assert one.algorithm == arr.algorithm[idx] or one.time_s == 0.0
    if n > 1 and size > 0:
        assert arr.time_s[0, 1] > 0


@settings(max_examples=80, deadline=None)
@given(size=st.floats(min_value=1.0, max_value=1e11), group=groups())
def test_auto_is_the_fastest_applicable_algorithm(size, group):
    n, stride = group
    system = SYSTEMS[(True, "switch")]
    best = collective_time_s(system, "all_reduce", size, n, stride).time_s
    names = [a.name for a in algorithms("all_reduce")]
    applicable = collective_models(system, "all_reduce", n, stride)[1]
    for name in applicable:
        assert name in names
        assert best <= collective_time_s(system, "all_reduce", size, n, stride, name).time_s
