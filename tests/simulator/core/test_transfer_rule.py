"""The transfer rule: which measured device a profile comes from, and what changes."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hwspecs import DType, load_device
from simulator.core.profile import default_profile
from simulator.core.profile_choice import profile_for
from simulator.core.transfer import balance_distance, is_transferred, nearest, transfer_profile


def test_nearest_is_the_same_vendor_closest_in_peak_and_bandwidth():
    h100, a100 = load_device("h100-sxm"), load_device("a100-sxm-80gb")
    assert nearest(load_device("h200-sxm"), [a100, h100]).name == "h100-sxm"
    assert nearest(load_device("l40s"), [a100, h100]).name == "a100-sxm-80gb"
    # |log(bf16 peak ratio)| + |log(bandwidth ratio)|, from the two specs' own figures.
    peak = h100.matrix_peak_flops_per_s[DType.BF16] / a100.matrix_peak_flops_per_s[DType.BF16]
    bw = h100.mem_bw_bytes_per_s / a100.mem_bw_bytes_per_s
    assert balance_distance(h100, a100) == pytest.approx(math.log(peak) + math.log(bw))
    assert balance_distance(h100, a100) == pytest.approx(balance_distance(a100, h100))
    # Another vendor only when asked (shipped devices); a user's spec keeps its defaults.
    mi300x = load_device("mi300x")
    assert nearest(mi300x, [a100, h100], any_vendor=False) is None
    assert nearest(mi300x, [a100, h100]).name == "h100-sxm"


def test_moved_profile_keeps_fractions_and_widens_intervals():
    h100, h200 = load_device("h100-sxm"), load_device("h200-sxm")
    source = replace(default_profile(h100), fitted=True, fitted_on="h100-sxm", engine="trtllm",
                     intervals={"gemm": (0.9, 1.2), "moe": (0.8, 1.1)})
    moved = transfer_profile(source, h100, h200, widening={"gemm": 0.1})
    assert moved.matrix_fraction == source.matrix_fraction
    assert moved.kernel_overhead_s == source.kernel_overhead_s
    assert moved.intervals["gemm"] == pytest.approx((0.9 / 1.1, 1.2 * 1.1))
    assert moved.intervals["moe"] == pytest.approx((0.8 / 1.1, 1.1 * 1.1))   # the largest e
    assert is_transferred(moved, h200) and not is_transferred(source, h100)
    assert "transferred from h100-sxm" in moved.origin


def test_unmeasured_shipped_devices_price_with_a_moved_profile():
    for name in ("h200-sxm", "b200"):
        p = profile_for(load_device(name))
        assert p.fitted and p.fitted_on in ("h100-sxm", "a100-sxm-80gb"), p.origin
        assert "transferred" in p.origin
    own = profile_for(load_device("h100-sxm"))
    assert own.fitted_on == "h100-sxm" and "transferred" not in own.origin
