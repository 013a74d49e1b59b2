"""Block-scaled formats in the dtype table and in the shipped specs: bits with their scales,
native peaks where the hardware has them, weight-only kernels where it dequantizes, sources."""

from __future__ import annotations

import pytest

from hwspecs.build import device_from_file
from hwspecs.dtypes import WEIGHT_ONLY_DTYPES, DType
from hwspecs.errors import SpecError
from hwspecs.registry import device_names, load_device
from tests.hwspecs.helpers_specs import h100_raw, write_spec

NV, MX4, MX8 = DType.NVFP4, DType.MXFP4, DType.MXFP8


def test_block_scaled_bits_count_their_scales():
    # NVFP4: 4-bit E2M1 values and one 8-bit E4M3 scale per 16 of them: 4 + 8/16 = 4.5 bits,
    # 0.5625 bytes per parameter (against 0.5 for a scale-free fp4 what-if).
    assert (NV.bits, NV.bytes, NV.block_elements, NV.scale_bits) == (4.5, 0.5625, 16, 8)
    # MX (OCP v1.0): an 8-bit E8M0 scale per 32 elements: 4.25 and 8.25 bits.
    assert (MX4.bits, MX4.block_elements) == (4.25, 32) and MX8.bits == 8.25
    assert DType.FP4.bits == 4 and not DType.FP4.block_scaled
    assert DType.parse(" NVFP4 ") is NV and NV.matrix_format is NV


def test_blackwell_has_native_peaks_hopper_dequantizes_amd_has_neither():
    b200 = load_device("b200")
    assert b200.matrix_peak(NV) == b200.matrix_peak(DType.FP4) == 9000e12
    assert b200.matrix_peak(MX8) == b200.matrix_peak(DType.FP8) == 4500e12
    assert "FP4 18 PF" in b200.sources["matrix_dense_TFLOPS.nvfp4"]
    h100 = load_device("h100-sxm")
    assert h100.weight_only_formats == {NV, MX4}
    assert "Marlin" in h100.sources["weight_only_formats.mxfp4"]
    with pytest.raises(ValueError, match="no dense nvfp4 matrix peak"):
        h100.matrix_peak(NV)
    h100.check_weight_format(MX4)
    with pytest.raises(ValueError, match="'mi300x' runs no mxfp4 weights"):
        load_device("mi300x").check_weight_format(MX4)


@pytest.mark.parametrize("name", device_names())
def test_every_shipped_device_states_its_block_scaled_formats(name):
    d = load_device(name)
    native = {x for x in WEIGHT_ONLY_DTYPES if x in d.matrix_peak_flops_per_s}
    said = native | set(d.weight_only_formats)
    unsaid = [x for x in WEIGHT_ONLY_DTYPES if x not in said]
    assert all(any(k.startswith("weight_only_formats") for k in d.not_sourced)
               for _ in unsaid), f"{name} says nothing of {unsaid}"
    for x in d.weight_only_formats:
        assert d.sources[f"weight_only_formats.{x.value}"]


def test_weight_only_entries_need_a_source(tmp_path):
    raw = h100_raw()
    raw["weight_only_formats"]["nvfp4"] = {"note": "no source"}
    with pytest.raises(SpecError, match="weight_only_formats.nvfp4.*source"):
        device_from_file(write_spec(tmp_path, raw))
    raw = h100_raw()
    raw["weight_only_formats"]["int4"] = {"source": "vllm-marlin-fp4"}
    with pytest.raises(SpecError, match="weight_only_formats.int4.*unknown field"):
        device_from_file(write_spec(tmp_path, raw))
    raw = h100_raw()
    raw["weight_only_formats"]["mxfp8"] = True
    with pytest.raises(SpecError, match="must be \\{source"):
        device_from_file(write_spec(tmp_path, raw))
