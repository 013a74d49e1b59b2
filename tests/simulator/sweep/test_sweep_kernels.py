"""Sweeps with the measured backend (`kernels: measured`): a covered device's points are the
measured simulation's, an unmeasured device's the model's, and each point says which."""

from __future__ import annotations

import numpy as np
import pytest

from hwspecs import load_device
from hwspecs.scale import ScaleFactors
from simulator import (
    KernelSource,
    Options,
    measured_share,
    parse_kernels,
    simulate,
    workload_kernel_check,
)
from simulator.sweep.chunk import evaluate_chunk
from simulator.sweep.grid import grid_from_dict
from simulator.sweep.kernels import unmeasured_devices
from workloads import get_workload

GRID = {"models": ["gpt2"], "phases": ["decode"], "batch": [2], "context": [128],
        "devices": ["h100-sxm", "mi300x"], "variants": {"mem_bw": [1, 2]},
        "precisions": ["bf16"]}
MEASURED = Options(kernels=KernelSource.MEASURED)


def _chunk(**extra):
    grid = grid_from_dict({**GRID, **extra})
    return evaluate_chunk(grid, grid.chunks()[0]).set_index(["device", "variant"])


@pytest.fixture(scope="module")
def frames():
    return _chunk(), _chunk(kernels="measured")


@pytest.fixture(scope="module")
def workload():
    return get_workload("gpt2", "decode", 2, 1, 128)


def test_a_covered_device_is_priced_from_the_measurements(frames, workload):
    model, measured = frames
    h100 = load_device("h100-sxm")
    for variant, device in (("mem_bwx1", h100), ("mem_bwx2", h100.scaled(mem_bw=2.0))):
        got = measured.loc[("h100-sxm", variant)]
        assert got["time_s"] == pytest.approx(simulate(workload, device, MEASURED).time_s,
                                              rel=1e-12)
        assert got["time_s"] != pytest.approx(model.loc[("h100-sxm", variant), "time_s"],
                                              rel=1e-3)
        assert got["kernels"] == "measured"
    share = measured_share(workload_kernel_check(workload, h100, MEASURED))["measured_share"]
    assert 0.3 < share < 1.0
    assert measured.loc[("h100-sxm", "mem_bwx1"), "measured_share"] == pytest.approx(share)


def test_a_device_nothing_measured_keeps_the_model_and_says_so(frames):
    model, measured = frames
    for variant in ("mem_bwx1", "mem_bwx2"):
        got, want = measured.loc[("mi300x", variant)], model.loc[("mi300x", variant)]
        assert got["time_s"] == want["time_s"]
        assert got["kernels"] == "model" and got["measured_share"] == 0.0
    assert (model["kernels"] == "model").all() and (model["measured_share"] == 0.0).all()
    assert unmeasured_devices(grid_from_dict({**GRID, "kernels": "measured"})) == [
        "mi300x (trtllm)"]
    assert unmeasured_devices(grid_from_dict(GRID)) == []


def test_plan_points_take_the_measured_backend_too():
    grid = grid_from_dict({**GRID, "devices": ["h100-sxm"], "phases": ["decode", "train"],
                           "seq": [128], "variants": {}, "plans": [{"tp": 2}],
                           "kernels": "measured"})
    model = grid_from_dict({**GRID, "devices": ["h100-sxm"], "phases": ["decode", "train"],
                            "seq": [128], "variants": {}, "plans": [{"tp": 2}]})
    for key in grid.chunks():
        got, want = evaluate_chunk(grid, key), evaluate_chunk(model, key)
        assert (got["error"] == "").all(), got["error"].tolist()
        assert got["kernels"].tolist() == ["measured"]
        assert 0.0 < got["measured_share"].iat[0] < 1.0
        assert not np.isclose(got["time_s"].iat[0], want["time_s"].iat[0], rtol=1e-3)


def test_the_kernels_key_is_checked_and_changes_the_fingerprint():
    plain, measured = grid_from_dict(GRID), grid_from_dict({**GRID, "kernels": "measured"})
    assert "kernels" not in plain.fingerprint()      # results written before still resume
    assert plain.fingerprint() != measured.fingerprint()
    assert parse_kernels(measured.kernels) == (KernelSource.MEASURED, None)
    for bad, fragment in (("bogus", "use model, measured or measured:DIR"),
                          ("model:x", "only measured takes a folder"), (3, "not 3")):
        with pytest.raises(ValueError, match=fragment) as e:
            grid_from_dict({**GRID, "kernels": bad})
        assert str(e.value).startswith("grid: ") and "\n" not in str(e.value)


def test_a_records_folder_of_another_device_is_refused_in_one_sentence(tmp_path):
    from simulator.core.measured_tables import DATA_DIR

    grid = grid_from_dict({**GRID, "kernels": f"measured:{DATA_DIR / 'h100-sxm-trtllm'}"})
    with pytest.raises(ValueError, match="the records are of h100-sxm, not mi300x"):
        unmeasured_devices(grid)
    empty = grid_from_dict({**GRID, "kernels": f"measured:{tmp_path}"})
    with pytest.raises(ValueError, match="no imported records"):
        unmeasured_devices(empty)


def test_a_what_if_copy_of_a_measured_device_moves_with_its_model_times(workload):
    """`DeviceSpec.scaled` and a variant of the sweep price the same (measured_pricing)."""
    from simulator import Variants, device_metrics

    h100 = load_device("h100-sxm")
    f = ScaleFactors.of({"matrix": 4.0})
    stacked = device_metrics(workload, h100, MEASURED, Variants.of([ScaleFactors(), f]))
    assert simulate(workload, h100.scaled(f), MEASURED).time_s == pytest.approx(
        stacked.time_s[1], rel=1e-12)
    assert simulate(workload, h100, MEASURED).time_s == pytest.approx(stacked.time_s[0],
                                                                       rel=1e-12)
