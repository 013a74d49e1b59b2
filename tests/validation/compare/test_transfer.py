"""Applying one device's fitted profile to another device's measurements."""

from __future__ import annotations

import pytest

from simulator.core.profile import profile_for
from validation.compare.kernels import held_out_errors, kernel_comparison
from validation.compare.transfer import transfer_table
from validation.measure.measured_sets import load_set, shipped_sets


@pytest.fixture(scope="module")
def sets():
    found = [load_set(f) for f in shipped_sets()]
    found = [s for s in found if profile_for(s.device).fitted]
    assert len(found) >= 2, "fewer than two measured devices with fitted profiles are committed"
    return found[:2]


def test_each_ordered_pair_is_scored_on_the_target_held_out_kernels(sets):
    table = transfer_table(sets)
    a, b = sets
    assert {(r.fitted_on, r.applied_to) for r in table.itertuples()} == {
        (a.device.name, b.device.name), (b.device.name, a.device.name)}
    own = held_out_errors(kernel_comparison(b.measurements.frame, b.device,
                                            profile_for(b.device)))
    rows = table[(table.applied_to == b.device.name) & (table.kernel == "gemm")]
    assert rows["median_ape_pct_own"].iloc[0] == pytest.approx(
        own.set_index("kernel").loc["gemm", "median_ape_pct"])
    moved = held_out_errors(kernel_comparison(b.measurements.frame, b.device,
                                              profile_for(a.device)))
    assert rows["median_ape_pct"].iloc[0] == pytest.approx(
        moved.set_index("kernel").loc["gemm", "median_ape_pct"])
    assert "all" in set(table.kernel)


def test_one_device_is_not_enough(sets):
    with pytest.raises(ValueError, match="two or more"):
        transfer_table(sets[:1])
