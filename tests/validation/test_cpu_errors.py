"""Predictions vs the committed CPU measurements, on kernels held out of the fit."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.efficiency import profile_for
from tests.validation.tolerances import (
    CPU_HELD_OUT_GEMM_MEDIAN_APE_PCT,
    CPU_HELD_OUT_MEDIAN_APE_PCT,
)
from validation.compare import kernel_comparison
from validation.measured_sets import load_set, shipped_sets


@pytest.fixture(scope="module")
def comparison():
    cpu = [f for f in shipped_sets() if f.name.startswith("cpu-")]
    if not cpu:
        pytest.skip("no CPU measurement set is committed under validation/data")
    s = load_set(cpu[0])
    profile = profile_for(s.device)
    assert profile.fitted, "the committed CPU set has no fitted profile in hwspecs/calibration"
    return kernel_comparison(s.measurements.frame, s.device, profile)


def test_held_out_median_error(comparison):
    held = comparison[comparison["held_out"]]
    ape = np.abs(held["error_pct"])
    assert float(ape.median()) <= CPU_HELD_OUT_MEDIAN_APE_PCT
    gemm = np.abs(held[held["kernel"] == "gemm"]["error_pct"])
    assert float(gemm.median()) <= CPU_HELD_OUT_GEMM_MEDIAN_APE_PCT
