"""The staged GPU fit recovers the parameters that made synthetic measurements."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hwspecs import load_device
from simulator.core.profile import default_profile
from tests.validation.measure.test_aiconfigurator_import import FIXTURE
from validation.fit.calibrate import _fit_stage
from validation.fit.predict import predict_s
from validation.fit.stages import GEMM_SHAPES, Parameter, Stage, gpu_stages
from validation.measure.aiconfigurator import import_aiconfigurator
from validation.measure.records import read_measurements


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    r = import_aiconfigurator(FIXTURE, tmp_path_factory.mktemp("h100"))
    return read_measurements(r.json_path).frame


TRUE = {"matrix_fraction": 0.62, "memory_fraction": 0.71, "gemm_k_half": 180.0,
        "overheads.gemm": 4.5e-6}


def test_gemm_stage_recovers_its_parameters(records):
    device = load_device("h100-sxm")
    start = replace(default_profile(device), **GEMM_SHAPES[0])
    truth = replace(start, matrix_fraction=TRUE["matrix_fraction"],
                    memory_fraction=TRUE["memory_fraction"], gemm_k_half=TRUE["gemm_k_half"],
                    overheads={"gemm": TRUE["overheads.gemm"]})
    rows = records[(records.kernel == "gemm") & (records.dtype == "bf16")].reset_index(drop=True)
    noise = np.random.default_rng(1).lognormal(0.0, 0.02, len(rows))   # 2% run-to-run
    measured = predict_s(rows, device, truth) * noise
    stage = Stage("gemm", lambda f: np.ones(len(f), bool),
                  lambda f: [Parameter(name, 1e-8 if "overheads" in name else 1e-2,
                                       1e-3 if "overheads" in name else
                                       (1e5 if "half" in name else 1.0)) for name in TRUE],
                  (GEMM_SHAPES[0],))
    fitted, _ = _fit_stage(stage, rows, measured, device, start)
    assert fitted.matrix_fraction == pytest.approx(TRUE["matrix_fraction"], rel=0.05)
    assert fitted.memory_fraction == pytest.approx(TRUE["memory_fraction"], rel=0.05)
    assert fitted.overheads["gemm"] == pytest.approx(TRUE["overheads.gemm"], rel=0.15)
    assert fitted.gemm_k_half == pytest.approx(TRUE["gemm_k_half"], rel=0.3)


def test_each_gemm_dtype_has_a_stage_of_its_own(records):
    names = [s.name for s in gpu_stages(records)]
    assert names[:3] == ["gemm", "gemm.fp8", "gemm.fp8_block"]
    fp8 = next(s for s in gpu_stages(records) if s.name == "gemm.fp8")
    params = [p.name for p in fp8.parameters(records)]
    assert "gemm_by_dtype.fp8.matrix_fraction" in params and "overheads.gemm.fp8" in params
    assert set(records[fp8.rows(records)]["dtype"]) == {"fp8"}
