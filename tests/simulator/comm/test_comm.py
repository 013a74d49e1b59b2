"""Golden collective costs on a round-number system, worked by hand in the comments.

The system: nodes of 8 devices on a 100 GB/s-per-direction switch ("roundlink", alpha 1 us),
nodes joined by a 25 GB/s-per-device fabric ("roundnet", alpha 5 us); both levels reach half
their line rate (efficiency 0.5), so B_in = 50 GB/s and B_out = 12.5 GB/s below.
"""

from __future__ import annotations

import numpy as np
import pytest

from hwspecs.build import make_system
from hwspecs.schema import EfficiencyDefaults, ScaleOut, ScaleUp, System
from simulator.comm import collectives
from simulator.comm.costs import KINDS, collective_costs, collective_models, collective_time_s
from tests.simulator.synthetic import round_device

GB = 1e9
A_IN, A_OUT = 1e-6, 5e-6


def round_system(nodes: int = 1, sharp: bool = False, topology: str = "switch",
                 link: float = 1.0) -> System:
    """8 devices per node; `link` scales both link bandwidths (for the property tests)."""
    dev = round_device(
        scale_up=ScaleUp("roundlink", 100e9, A_IN, 8, topology, sharp),
        scale_out=ScaleOut("roundnet", 25e9, A_OUT),
        defaults=EfficiencyDefaults(kernel_overhead_s=5e-6, matrix_fraction=0.8,
                                    vector_fraction=0.5, memory_fraction=0.9,
                                    scale_up_fraction=0.5, scale_out_fraction=0.5))
    dev = dev.scaled(link=link)
    return make_system(f"round{nodes}", "round", dev, 8, nodes, dev.scale_up,
                       dev.scale_out if nodes > 1 else None)


def t(system, kind, size, n, stride=1, algorithm="auto"):
    return collective_time_s(system, kind, size, n, stride, algorithm)


def test_ring_all_reduce_1gb_over_8():
    # 2(n-1)/n * S/B + 2(n-1) alpha = 2*7/8 * 1e9 / 50e9 + 14 * 1 us = 0.035 s + 14 us
    c = t(round_system(), "all_reduce", 1 * GB, 8, algorithm="ring")
    assert c.time_s == pytest.approx(0.035 + 14e-6, rel=1e-12)
    assert c.sent_bytes == pytest.approx(1.75 * GB)          # 2 * 7/8 * S
    assert c.busbw_bytes_per_s == pytest.approx(50e9, rel=1e-3)   # ~B, less the alphas
    assert (c.level, c.algorithm) == ("roundlink", "ring")


@pytest.mark.parametrize("kind", ["all_gather", "reduce_scatter"])
def test_all_gather_and_reduce_scatter_1gb_over_8(kind):
    # (n-1)/n * S/B + (n-1) alpha = 7/8 * 1e9 / 50e9 + 7 us = 0.0175 s + 7 us
    c = t(round_system(), kind, 1 * GB, 8)
    assert c.time_s == pytest.approx(0.0175 + 7e-6, rel=1e-12)
    assert c.sent_bytes == pytest.approx(0.875 * GB)


@pytest.mark.parametrize("kind", KINDS)
def test_a_group_of_one_costs_nothing(kind):
    c = t(round_system(nodes=2), kind, 1 * GB, 1)
    assert (c.time_s, c.sent_bytes, c.algorithm) == (0.0, 0.0, "none")
    arr = collective_costs(round_system(), kind, np.array([0.0, 1e3, 1e9]), 1)
    assert np.all(arr.time_s == 0.0)


def test_tree_all_reduce_1gb_over_8():
    # 2 ceil(log2 8) alpha + 2 S/B = 6 us + 2e9 / 50e9 = 0.04 s + 6 us
    c = t(round_system(), "all_reduce", 1 * GB, 8, algorithm="tree")
    assert c.time_s == pytest.approx(0.04 + 6e-6, rel=1e-12)


def test_auto_takes_tree_for_small_and_ring_for_large_messages():
    # tree beats ring while 6 us + 2 S/B < 14 us + 1.75 S/B, i.e. S < 8 us * 50e9 / 0.25 = 1.6 MB
    sizes = np.array([1e3, 1e6, 1.5e6, 1.7e6, 1e9])
    arr = collective_costs(round_system(), "all_reduce", sizes, 8)
    assert list(arr.algorithm) == ["tree", "tree", "tree", "ring", "ring"]
    for size, time_s, algo in zip(sizes, arr.time_s, arr.algorithm, strict=True):
        one = t(round_system(), "all_reduce", size, 8)
        assert (one.time_s, one.algorithm) == (pytest.approx(time_s, rel=1e-12), algo)


def test_in_network_all_reduce_sends_each_byte_once_up_and_once_down():
    # S/B + 2 alpha = 1e9 / 50e9 + 2 us = 0.02 s + 2 us, against the ring's 0.035 s
    c = t(round_system(sharp=True), "all_reduce", 1 * GB, 8)
    assert c.algorithm == "in_network"
    assert c.time_s == pytest.approx(0.02 + 2e-6, rel=1e-12)
    assert c.sent_bytes == pytest.approx(1 * GB)


def test_hierarchical_all_reduce_1gb_over_2_nodes():
    # 16 devices, g = 8 per node, m = 2 nodes:
    #   reduce-scatter inside: 7/8 * 1e9 / 50e9 = 0.0175 s + 7 * 1 us
    #   all-reduce of S/8 = 125 MB across: 2 * 1/2 * 125e6 / 12.5e9 = 0.01 s + 2 * 1 * 5 us
    #   all-gather inside: 0.0175 s + 7 us
    #   total 0.045 s + 24 us
    c = t(round_system(nodes=2), "all_reduce", 1 * GB, 16, algorithm="hierarchical")
    assert c.time_s == pytest.approx(0.045 + 24e-6, rel=1e-12)
    assert c.level == "roundnet"
    # sent: 2 * 7/8 * S inside + 2 * 1/2 * S/8 across = 1.75 GB + 0.125 GB
    assert c.sent_bytes == pytest.approx(1.875 * GB)


def test_flat_ring_across_2_nodes_spreads_over_every_nic():
    # a ring leaves each node through all 8 members' NICs: min(50, 8 * 12.5) GB/s = 50 GB/s,
    # 2 * 15/16 * 1e9 / 50e9 = 0.0375 s, plus 30 steps at the fabric's 5 us = 150 us
    c = t(round_system(nodes=2), "all_reduce", 1 * GB, 16, algorithm="ring")
    assert c.time_s == pytest.approx(0.0375 + 150e-6, rel=1e-12)
    assert t(round_system(nodes=2), "all_reduce", 1 * GB, 16).algorithm == "ring"  # < 0.045 s


def test_data_parallel_group_striding_across_nodes_uses_one_nic():
    # DP pair at stride 8: devices 0 and 8, one per node, each with its own 12.5 GB/s NIC:
    # 2 * 1/2 * 1e9 / 12.5e9 = 0.08 s + 2 * 5 us
    c = t(round_system(nodes=2), "all_reduce", 1 * GB, 2, stride=8, algorithm="ring")
    assert c.time_s == pytest.approx(0.08 + 10e-6, rel=1e-12)
    assert c.level == "roundnet"
    # a stride-2 group of 4 (devices 0, 2, 4, 6) stays inside the node
    assert t(round_system(nodes=2), "all_reduce", 1 * GB, 4, stride=2).level == "roundlink"


def test_all_to_all_over_2_nodes():
    # 16 devices, 1.6 GB send buffer = 100 MB per peer. 7 peers inside: 0.7 GB / 50e9 = 14 ms;
    # 8 peers across: 0.8 GB / 12.5e9 = 64 ms; the slower level sets the time, plus one
    # alpha per peer: 7 * 1 us + 8 * 5 us = 47 us
    c = t(round_system(nodes=2), "all_to_all", 1.6 * GB, 16)
    assert c.time_s == pytest.approx(0.064 + 47e-6, rel=1e-12)
    assert c.sent_bytes == pytest.approx(1.5 * GB)          # 15/16 of the buffer leaves


def test_send_recv_inside_and_across_nodes():
    # S/B + alpha: 1e9 / 50e9 + 1 us inside; 1e9 / 12.5e9 + 5 us across
    inside = t(round_system(nodes=2), "send_recv", 1 * GB, 2, stride=4)
    across = t(round_system(nodes=2), "send_recv", 1 * GB, 2, stride=8)
    assert inside.time_s == pytest.approx(0.02 + 1e-6, rel=1e-12)
    assert across.time_s == pytest.approx(0.08 + 5e-6, rel=1e-12)
    # 4 pipeline stages 4 apart (0, 4, 8, 12): the 4 -> 8 boundary crosses nodes
    assert t(round_system(nodes=2), "send_recv", 1 * GB, 4, stride=4).level == "roundnet"


def test_fully_connected_links_give_a_small_group_only_its_own_links():
    # a direct mesh of 8: a device's 50 GB/s is split over 7 links; a pair uses one of them:
    # 2 * 1/2 * 1e9 / (50e9 / 7) = 0.14 s + 2 * 1 us
    c = t(round_system(topology="fully_connected"), "all_reduce", 1 * GB, 2, algorithm="ring")
    assert c.time_s == pytest.approx(0.14 + 2e-6, rel=1e-12)
    # all 8 use all 7 links: same as the switch
    full = t(round_system(topology="fully_connected"), "all_reduce", 1 * GB, 8, algorithm="ring")
    assert full.time_s == pytest.approx(0.035 + 14e-6, rel=1e-12)


def test_zero_bytes_cost_nothing_and_models_are_linear():
    assert t(round_system(), "all_reduce", 0, 8).time_s == 0.0
    level, models = collective_models(round_system(), "all_reduce", 8)
    assert level == "roundlink" and set(models) == {"ring", "tree"}
    ring = models["ring"]
    assert ring.latency_s + ring.s_per_byte * GB == pytest.approx(0.035 + 14e-6, rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda s: t(s, "allreduce", GB, 8), "unknown collective 'allreduce'"),
    (lambda s: t(s, "all_reduce", GB, 8, algorithm="butterfly"), "unknown algorithm"),
    (lambda s: t(s, "all_reduce", GB, 8, algorithm="in_network"), "no in-network reduction"),
    (lambda s: t(s, "all_reduce", GB, 8, algorithm="hierarchical"), "does not split"),
    (lambda s: t(s, "all_reduce", GB, 9), "spans 9 devices"),
    (lambda s: t(s, "all_reduce", GB, 2, stride=8), "spans 9 devices"),
    (lambda s: t(s, "all_reduce", GB, 0), "group_size"),
    (lambda s: t(s, "all_reduce", GB, 2, stride=0), "stride"),
    (lambda s: t(s, "all_reduce", -1.0, 8), "size_bytes"),
    (lambda s: collective_costs(s, "all_gather", [1.0, float("nan")], 8), "sizes_bytes"),
])
def test_bad_inputs_are_refused_with_a_clear_reason(call, match):
    with pytest.raises(ValueError, match=match):
        call(round_system())


def test_registry_refuses_a_duplicate_algorithm():
    with pytest.raises(ValueError, match="already registered"):
        collectives.register("all_reduce", "ring")(lambda p: None)
    assert [a.name for a in collectives.algorithms("all_reduce")] == \
        ["ring", "tree", "in_network", "hierarchical"]
