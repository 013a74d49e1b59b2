"""Moving one device's fitted profile to another device's measurements by the transfer rule."""

from __future__ import annotations

import pytest

from simulator.core.transfer import transfer_profile
from validation.compare.kernels import kernel_comparison, scored_errors
from validation.compare.transfer import own_profile, save_widening, transfer_table
from validation.measure.measured_sets import DATA_DIR, load_set


@pytest.fixture(scope="module")
def sets():
    return [load_set(DATA_DIR / name) for name in ("a100-sxm-80gb-trtllm", "h100-sxm-trtllm")]


@pytest.fixture(scope="module")
def table(sets):
    return transfer_table(sets)


def test_each_ordered_pair_scores_every_record_of_the_target(sets, table):
    a, b = sets
    assert {(r.fitted_on, r.applied_to) for r in table.itertuples()} == {
        (a.device.name, b.device.name), (b.device.name, a.device.name)}
    moved = kernel_comparison(b.measurements.frame, b.device,
                              transfer_profile(own_profile(a), a.device, b.device, widening={}))
    want = scored_errors(moved, fitted_here=False).set_index(["kernel", "dtype"])
    rows = table[table.applied_to == b.device.name].set_index(["kernel", "dtype"])
    assert rows.loc[("gemm", "bf16"), "median_ape_pct"] == pytest.approx(
        want.loc[("gemm", "bf16"), "median_ape_pct"])
    assert rows.loc[("gemm", "bf16"), "cases"] == want.loc[("gemm", "bf16"), "cases"]
    # The A100 profile measured no fp8 GEMM: the H100's fp8 rows run at its base values.
    assert ("gemm", "fp8") in rows.index
    own = scored_errors(kernel_comparison(b.measurements.frame, b.device, own_profile(b)),
                        fitted_here=True).set_index(["kernel", "dtype"])
    assert rows.loc[("gemm", "bf16"), "median_ape_pct_own"] == pytest.approx(
        own.loc[("gemm", "bf16"), "median_ape_pct"])
    assert rows.loc[("all", ""), "cases"] == len(b.measurements.frame)


def test_saved_widening_is_the_worse_direction_per_class(table, tmp_path):
    import yaml

    path = save_widening(table, tmp_path / "transfer.yaml")
    saved = yaml.safe_load(path.read_text())
    gemm = table[table.kernel == "gemm"]["median_ape_pct"].max() / 100
    assert saved["median_abs_error"]["gemm"] == pytest.approx(gemm, abs=1e-4)
    assert "all" not in saved["median_abs_error"]
    assert "a100-sxm-80gb -> h100-sxm (trtllm)" in saved["source"]


def test_one_device_is_not_enough(sets):
    with pytest.raises(ValueError, match="two or more devices"):
        transfer_table(sets[:1])
