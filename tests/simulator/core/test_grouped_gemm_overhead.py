"""A fused MoE's expert GEMMs take their own fixed cost where a profile has one."""

from dataclasses import replace

import pandas as pd
import pytest

from hwspecs import load_device
from simulator.core.arrays import DTYPES
from simulator.core.kernel_classes import overheads
from simulator.core.profile import default_profile
from validation.fit.kernel_records import records_to_arrays


def _fixed_s(table: dict[str, float]) -> dict[tuple[str, str], float]:
    """(kernel, dtype) -> the fixed cost `overheads` gives a dense fp8 GEMM and grouped fp8
    and bf16 GEMMs under a profile with these overheads."""
    frame = pd.DataFrame({
        "kernel": ["gemm", "grouped_gemm", "grouped_gemm"], "op": ["dense", "up", "up"],
        "dtype": ["fp8", "fp8", "bf16"], "m": [64, 512, 512], "n": [4096] * 3,
        "k": [4096] * 3, "groups": [1, 8, 8], "flops": [2.0 * 64 * 4096 * 4096] * 3,
        "read_bytes": [1e7] * 3, "write_bytes": [1e6] * 3})
    a = records_to_arrays(frame)
    profile = replace(default_profile(load_device("h100-sxm")), overheads=table)
    names = tuple(DTYPES[c].value for c in a.dtype_codes)
    got = overheads(a, profile, names, a.dtype_index)
    keys = zip(frame["kernel"], frame["dtype"], strict=True)
    return dict(zip(keys, got.tolist(), strict=True))


def test_grouped_gemms_use_their_own_fixed_cost_per_dtype():
    got = _fixed_s({"gemm": 3e-6, "gemm.fp8": 5e-5, "grouped_gemm.fp8": 2e-6})
    assert got[("gemm", "fp8")] == pytest.approx(5e-5)          # the dense GEMM's own
    assert got[("grouped_gemm", "fp8")] == pytest.approx(2e-6)  # the fused expert GEMM's
    assert got[("grouped_gemm", "bf16")] == pytest.approx(3e-6)  # none for bf16: gemm's


def test_without_a_grouped_gemm_entry_grouped_gemms_cost_what_gemms_do():
    got = _fixed_s({"gemm": 3e-6, "gemm.fp8": 5e-5})
    assert got[("grouped_gemm", "fp8")] == pytest.approx(5e-5)
    assert got[("grouped_gemm", "bf16")] == pytest.approx(3e-6)
