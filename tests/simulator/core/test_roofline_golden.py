"""Golden cases on the round-number device (tests/simulator/synthetic.py), worked by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from hwspecs.dtypes import DType
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.profile import default_profile
from simulator.core.simulate import simulate
from tests.simulator.synthetic import elementwise, gemm, round_device, workload


def test_4096_cubed_bf16_gemm_ideal():
    # FLOPs = 2 * 4096^3 = 1.37439e11; at 1e15 FLOP/s -> 137.44 us.
    # Bytes = 3 * 4096^2 * 2 B = 100.66 MB; at 1e12 B/s -> 100.66 us. Compute-bound.
    r = simulate(workload([gemm(4096, 4096, 4096)]), round_device(), Options(ideal=True))
    assert r.time_s == pytest.approx(2 * 4096**3 / 1e15, rel=1e-9)
    assert r.memory_s == pytest.approx(3 * 4096**2 * 2 / 1e12, rel=1e-9)
    assert r.bound == "compute"
    assert r.overhead_s == 0


def test_4096_cubed_bf16_gemm_with_default_efficiency():
    # Tiles 64x128: 64 * 32 = 2048 tiles on 100 SMs -> 21 waves -> 2048/2100 = 0.97524.
    # (Tiles 128x128: 1024 tiles -> 11 waves -> 0.93091; the better tile wins.)
    # K ramp: 4096 / (4096 + 64) = 0.984615. Matrix fraction 0.8.
    # eff = 0.8 * 0.97524 * 0.984615 = 0.768190; compute = 137.439 us / 0.768190 = 178.914 us.
    # Plus 5 us kernel overhead = 183.914 us.
    r = simulate(workload([gemm(4096, 4096, 4096)]), round_device())
    eff = 0.8 * (2048 / 2100) * (4096 / 4160)
    assert r.compute_s == pytest.approx(2 * 4096**3 / 1e15 / eff, rel=1e-9)
    assert r.time_s == pytest.approx(2 * 4096**3 / 1e15 / eff + 5e-6, rel=1e-9)


def test_wave_quantization_129_vs_133_tiles_on_132_sms():
    # 132 SMs, one 128x128 tile shape; N = 128 (one tile column). M = 129*128 -> 129 tiles
    # in one wave (129/132 useful); M = 133*128 -> 133 tiles in two waves (133/264 useful).
    # Time per row: (132/129) vs (264/133) -> ratio 1.940.
    dev = round_device(compute_units=132)
    opts = Options(profile=replace(default_profile(dev), gemm_tile_m=(128,)))
    r129 = simulate(workload([gemm(129 * 128, 128, 8192)]), dev, opts)
    r133 = simulate(workload([gemm(133 * 128, 128, 8192)]), dev, opts)
    per_row_129 = r129.compute_s / 129
    per_row_133 = r133.compute_s / 133
    assert per_row_133 / per_row_129 == pytest.approx((264 / 133) / (132 / 129), rel=1e-9)


def test_memory_bound_elementwise():
    # 1e8 bf16 elements: read 2 x 200 MB, write 200 MB = 600 MB; at 1 TB/s x 0.9 x
    # ramp (6e8 / (6e8 + 262144) = 0.999563) -> 600e6 / (1e12 * 0.9 * 0.999563) = 666.96 us.
    # Compute 1e8 FLOP at 1e14 x 0.5 = 2 us. Memory-bound; + 5 us overhead.
    r = simulate(workload([elementwise(100_000_000)]), round_device())
    mem = 6e8 / (1e12 * 0.9 * (6e8 / (6e8 + 262144)))
    assert r.memory_s == pytest.approx(mem, rel=1e-9)
    assert r.time_s == pytest.approx(mem + 5e-6, rel=1e-9)
    assert r.bound == "memory"


def test_tiny_kernel_is_overhead_bound():
    r = simulate(workload([elementwise(16)]), round_device())
    assert r.bound == "overhead"


def test_fp8_doubles_the_matrix_peak_and_halves_bytes():
    w = workload([gemm(4096, 4096, 4096)])
    bf16 = simulate(w, round_device(), Options(ideal=True))
    fp8 = simulate(w, round_device(), Options(ideal=True,
                                                 precision=Precision.parse("fp8")))
    assert fp8.compute_s == pytest.approx(bf16.compute_s / 2)
    assert float(fp8.ops.bytes.sum()) == pytest.approx(float(bf16.ops.bytes.sum()) / 2)


def test_w4a16_reads_quarter_weights_and_pays_dequantization():
    # Decode-like GEMV: M=1, N=K=4096. Weights 4096^2 x 2 B = 33.55 MB in bf16; int4: 8.39 MB.
    w = workload([gemm(1, 4096, 4096)])
    bf16 = simulate(w, round_device(), Options(ideal=True))
    w4 = simulate(w, round_device(), Options(
        ideal=True, precision=Precision.parse("bf16", weights="int4")))
    weight_bf16 = 4096 * 4096 * 2
    saved = weight_bf16 * (1 - 4 / 16)
    assert float(bf16.ops.bytes.sum()) - float(w4.ops.bytes.sum()) == pytest.approx(saved)
    # Dequantization: 2 FLOP per weight element on the vector unit at 1e14 FLOP/s.
    assert w4.compute_s - bf16.compute_s == pytest.approx(4096 * 4096 * 2 / 1e14)


def test_fp4_compute_on_a_device_without_fp4_is_a_clear_error():
    with pytest.raises(ValueError, match="no dense fp4 matrix peak"):
        simulate(workload([gemm(64, 64, 64)]), round_device(),
                 Options(precision=Precision.parse("fp4")))


def test_sparse_2_4_uses_sparse_peak_for_weight_gemms():
    w = workload([gemm(4096, 4096, 4096)])
    dense = simulate(w, round_device(), Options(ideal=True))
    sparse = simulate(w, round_device(), Options(
        ideal=True, precision=Precision(sparse=True)))
    assert sparse.compute_s == pytest.approx(dense.compute_s / 2)
    assert DType.BF16.bits == 16 and not math.isnan(sparse.time_s)


def _decode_attention(batch: int = 8, heads: int = 32, kv_len: int = 4096, d: int = 128):
    from tests.simulator.transformer_synthetic import Arch, _attention

    arch = Arch(layers=1, hidden=heads * d, heads=heads, kv_heads=heads)
    return workload([_attention(arch, 0, batch, 1, kv_len, cached=True)], batch=batch, seq=1,
                    context=kv_len)


def test_attention_computes_in_the_wider_of_activations_and_kv_cache():
    # FLOPs 4 x 8 x 32 x 4096 x 128 = 5.3687e8 (one query per sequence).
    w = _decode_attention()
    flops = 4 * 8 * 32 * 4096 * 128

    def compute_s(spec: str) -> float:
        return simulate(w, round_device(), Options(ideal=True,
                                                   precision=Precision.parse(spec))).compute_s

    # FP8 GEMMs beside a bf16 cache: attention runs bf16 (1e15), no widening of the cache.
    assert compute_s("fp8/kv=bf16") == pytest.approx(flops / 1e15, rel=1e-9)
    # An FP8 cache: FP8 attention (2e15).
    assert compute_s("fp8/kv=fp8") == pytest.approx(flops / 2e15, rel=1e-9)
    # bf16 compute over an FP8 cache: bf16 attention plus the cache widened on the vector
    # units, 2 FLOP per K and V element read: 2 x (2 x 8 x 32 x 4096 x 128) / 1e14.
    kv_elements = 2 * 8 * 32 * 4096 * 128
    assert compute_s("bf16/kv=fp8") == pytest.approx(flops / 1e15 + 2 * kv_elements / 1e14,
                                                     rel=1e-9)
    assert Precision.parse("fp8/kv=bf16").attention is DType.BF16
