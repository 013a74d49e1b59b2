"""Block-scaled weights and activations priced: their scale bytes, their peaks, the named
precisions W4A16 and W4A8, and a format a device cannot run refused in one sentence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwspecs.dtypes import DType
from simulator.core.arrays import to_arrays
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.pricing import peaks, price, scaled_bytes
from tests.simulator.synthetic import gemm, round_device, workload

NV, MX4 = DType.NVFP4, DType.MXFP4


def _decode_gemm():
    # one token through a 4096 x 4096 weight: 16,777,216 weights, 33.5 MB in bf16
    return to_arrays(workload([gemm(1, 4096, 4096)]))


def test_nvfp4_weights_move_4_5_bits_per_parameter():
    a = _decode_gemm()
    w = 4096 * 4096
    for dtype, bytes_per in ((NV, 0.5625), (MX4, 0.53125), (DType.FP4, 0.5), (DType.INT4, 0.5)):
        moved = scaled_bytes(a, DType.BF16, Precision(weights=dtype))
        acts = (4096 + 4096) * 2
        assert moved[0] == pytest.approx(w * bytes_per + acts)
    assert Precision(weights=NV).weight_bytes_per_element() == 0.5625


def test_named_precisions():
    assert Precision.parse("w4a16") == Precision(DType.INT4, DType.BF16, DType.BF16)
    # FP8 compute keeps the KV cache in bf16 unless asked (as the engines' "auto")
    assert Precision.parse("W4A8") == Precision(DType.INT4, DType.FP8, DType.BF16)
    assert Precision.parse("w4a8", weights="mxfp4", kv="fp8") == \
        Precision(MX4, DType.FP8, DType.FP8)                    # W4A8_MXFP4_FP8, FP8 KV
    with pytest.raises(ValueError, match="or a named precision: w4a16, w4a8"):
        Precision.parse("w4a9")


def test_block_scaled_compute_runs_at_its_own_peak_and_refuses_elsewhere():
    blackwell = round_device(matrix_peak_flops_per_s={DType.BF16: 1e15, DType.FP8: 2e15,
                                                      NV: 4e15})
    a = _decode_gemm()
    pk = peaks(a, blackwell, DType.BF16, Precision(NV, NV, NV))
    assert pk.matrix[0] == 4e15 and pk.dtypes == ("nvfp4",)
    with pytest.raises(ValueError, match="device 'round' has no dense nvfp4 matrix peak"):
        peaks(a, round_device(), DType.BF16, Precision(NV, NV, NV))


def test_block_scaled_weights_need_a_peak_or_weight_only_kernels():
    a = _decode_gemm()
    device = round_device()
    profile = Options().profile_for(device)
    with pytest.raises(ValueError, match="'round' runs no nvfp4 weights"):
        price(a, device, profile, DType.BF16, Precision(weights=NV))
    dequant = replace(device, weight_only_formats=frozenset({NV}))
    w4a16 = price(a, dequant, profile, DType.BF16, Precision(weights=NV))
    bf16 = price(a, dequant, profile, DType.BF16, Precision())
    assert w4a16.bytes[0] < bf16.bytes[0] / 3                   # 4.5 of 16 bits per weight
    assert w4a16.flops[0] > bf16.flops[0]                       # plus the dequantization
    price(a, device, profile, DType.BF16, Precision(weights=DType.INT4))   # unscaled: any GPU
