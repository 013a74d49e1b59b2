"""Calibration recovers known parameters from synthetic measurements, and refuses too few."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwspecs.dtypes import DType
from simulator.core.profile import default_profile, load_profile
from tests.simulator.synthetic import round_device
from validation.fit.calibrate import (
    error_table,
    fit_profile,
    holdout_mask,
    predict_s,
    save_profile,
)
from validation.measure.bench_shapes import CPU_FULL, CPU_QUICK, CUDA_FULL, SHAPE_FIELDS, build_grid
from validation.measure.kernel_work import work_of


def _frame(sizes) -> pd.DataFrame:
    rows = []
    for case in build_grid(sizes, "bf16"):
        work = work_of(case)
        rows.append({"kernel": case.kernel, "op": case.op, "dtype": case.dtype,
                     **case.shape(), "flops": work.flops, "read_bytes": work.read_bytes,
                     "write_bytes": work.write_bytes, "launches": work.launches,
                     "noise_riqr": 0.01})
    frame = pd.DataFrame(rows)
    for name in SHAPE_FIELDS:
        frame[name] = frame[name].astype("boolean" if name == "causal" else "Int64")
    return frame


TRUE = dict(matrix_fraction=0.55, vector_fraction=0.3, memory_fraction=0.7,
            attention_fraction=0.35, kernel_overhead_s=8e-6, gemm_k_half=200.0,
            memory_half_bytes=2e6, attention_kv_half=300.0)


def test_calibration_recovers_known_parameters():
    device = round_device(vector_peak_flops_per_s={DType.BF16: 1e14, DType.FP32: 5e13})
    truth = replace(default_profile(device), **TRUE)
    frame = _frame(CUDA_FULL)
    rng = np.random.default_rng(0)
    # Measurements = the true model times +-3% multiplicative noise.
    frame["median_s"] = predict_s(frame, device, truth) * np.exp(rng.normal(0, 0.03, len(frame)))
    start = default_profile(device)
    fit = fit_profile(frame, device, start, name="synthetic", source="test")
    for name in ("matrix_fraction", "memory_fraction", "kernel_overhead_s",
                 "attention_fraction"):
        assert getattr(fit.profile, name) == pytest.approx(TRUE[name], rel=0.15), name
    held_out = error_table(frame, fit.predicted_s, holdout_mask(frame))
    assert (held_out["median_ape_pct"] < 6).all()
    assert fit.profile.fitted and set(fit.profile.intervals) <= set(frame["kernel"])


def test_saved_profile_loads_back(tmp_path):
    device = round_device()
    frame = _frame(CPU_FULL)
    frame["median_s"] = predict_s(frame, device, default_profile(device))
    fit = fit_profile(frame, device, default_profile(device), name="x", source="test")
    loaded = load_profile(save_profile(fit.profile, tmp_path / "x.yaml"))
    assert loaded.matrix_fraction == pytest.approx(fit.profile.matrix_fraction)
    assert loaded.intervals.keys() == fit.profile.intervals.keys()


def test_too_few_points_is_refused():
    device = round_device()
    frame = _frame(CPU_QUICK).head(12)
    frame["median_s"] = 1e-3
    with pytest.raises(ValueError, match="calibration needs at least"):
        fit_profile(frame, device, default_profile(device), name="x", source="test")
