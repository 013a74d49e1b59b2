"""`--emit-spec` on hand-made measurements: every figure worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from hwspecs import DType, load_device
from validation.measure.emit_spec import write_spec
from validation.measure.records import COLUMNS, read_measurements, write_measurements

FINGERPRINT = {"kind": "cpu", "name": "Test CPU 9000", "vendor": "Test", "threads": 4,
               "clock_mhz": 3000.0, "memory_bytes": 16e9, "last_level_cache_bytes": 32e6,
               "power_limit_w": None}
META = {"slug": "cpu-test-9000-4t", "date": "2026-01-02", "device": FINGERPRINT,
        "versions": {"torch": "9.9"}}


def _row(kernel: str, op: str, dtype: str, flops: float, moved: float, median_s: float,
         **shape) -> dict:
    row = {c: None for c in COLUMNS}
    row.update(kernel=kernel, op=op, impl="test", dtype=dtype, flops=flops,
               read_bytes=moved / 2, write_bytes=moved / 2, launches=1, median_s=median_s,
               p10_s=median_s, p25_s=median_s, p75_s=median_s, p90_s=median_s, repeats=10,
               inner=1, noise_riqr=0.0, **shape)
    return row


@pytest.fixture
def measured(tmp_path):
    rows = [
        # 2*1024^3 = 2.147e9 FLOP in 10 ms: 214.7 GFLOP/s, the best fp32 GEMM.
        _row("gemm", "mm", "fp32", 2 * 1024**3, 12.6e6, 10e-3, m=1024, n=1024, k=1024),
        _row("gemm", "mm", "fp32", 2 * 256**3, 0.8e6, 1e-3, m=256, n=256, k=256),
        # 5 GFLOP/s softmax beats the 1 GFLOP/s add: the vector peak.
        _row("softmax", "softmax", "fp32", 5e7, 8e7, 10e-3, rows=1000, cols=10000),
        _row("elementwise", "add", "fp32", 1e6, 12e6, 1e-3, numel=10**6),
        # The largest copy moves 512 MB in 20 ms: 25.6 GB/s. The small one is faster
        # (cache-resident) and must not count.
        _row("copy", "copy", "fp32", 0.0, 512e6, 20e-3, numel=64 * 2**20),
        _row("copy", "copy", "fp32", 0.0, 8e6, 0.1e-3, numel=2**20),
        # The fastest kernel, 3 us: the per-kernel overhead.
        _row("copy", "copy", "fp32", 0.0, 8.0, 3e-6, numel=1),
    ]
    csv_path, _ = write_measurements(pd.DataFrame(rows), META, tmp_path, "kernels-full")
    return read_measurements(csv_path)


def test_spec_from_hand_made_measurements(measured, tmp_path):
    path = write_spec(measured, tmp_path, (95.0, "Test CPU 9000 datasheet, table 1"))
    assert path.name == "cpu-test-9000-4t-measured.yaml"
    spec = load_device(str(path))
    assert spec.matrix_peak(DType.FP32) == pytest.approx(214.7e9, rel=1e-3)
    assert spec.vector_peak(DType.FP32) == pytest.approx(5e9, rel=1e-3)
    assert spec.mem_bw_bytes_per_s == pytest.approx(25.6e9, rel=1e-3)
    assert spec.defaults.kernel_overhead_s == pytest.approx(3e-6, rel=1e-3)
    assert spec.mem_capacity_bytes == 16e9 and spec.compute_units == 4
    assert spec.clock_hz == 3e9 and spec.tdp_w == 95.0
    assert spec.defaults.matrix_fraction == 1.0
    assert spec.sources["power.tdp_W"] == "Test CPU 9000 datasheet, table 1"
    assert spec.sources["memory.bw_TBps"].startswith("measured by archsim bench on 2026-01-02")
    assert "memory.l2_MB" in spec.not_sourced


def test_spec_that_fails_the_loader_is_not_left_behind(measured, tmp_path):
    frame = measured.frame.copy()
    frame.loc[frame["kernel"] == "copy", "median_s"] *= 1000   # 25.6 MB/s: implausible
    frame.loc[frame["kernel"] == "copy", ["p10_s", "p25_s", "p75_s", "p90_s"]] *= 1000
    csv_path, _ = write_measurements(frame, META, tmp_path / "slow", "kernels-full")
    with pytest.raises(ValueError, match="memory.bw_TBps"):
        write_spec(read_measurements(csv_path), tmp_path / "out", (95.0, "a datasheet, p. 1"))
    assert not list((tmp_path / "out").glob("*.yaml"))


def test_spec_needs_gemms_and_copies(measured, tmp_path):
    frame = measured.frame[measured.frame["kernel"] != "gemm"]
    csv_path, _ = write_measurements(frame, META, tmp_path / "nogemm", "kernels-full")
    with pytest.raises(ValueError, match="no GEMM measurements"):
        write_spec(read_measurements(csv_path), tmp_path, (95.0, "a datasheet, p. 1"))


def test_spec_of_a_gpu_reads_its_properties(tmp_path):
    from validation.measure.emit_spec import tdp_of

    gpu = {"kind": "cuda", "name": "NVIDIA H200", "vendor": "NVIDIA", "sm_count": 132,
           "memory_bytes": 150e9, "last_level_cache_bytes": 62914560, "clock_mhz": 1980.0,
           "power_limit_w": 700.0}
    meta = {**META, "slug": "nvidia-h200", "device": gpu}
    rows = [
        # 2*8192^3 = 1.0995e12 FLOP in 1.4 ms: 785.4 TFLOP/s bf16.
        _row("gemm", "mm", "bf16", 2 * 8192**3, 4e8, 1.4e-3, m=8192, n=8192, k=8192),
        _row("gemm", "mm", "fp32", 2 * 8192**3, 8e8, 20e-3, m=8192, n=8192, k=8192),
        _row("elementwise", "add", "bf16", 2**28, 1.6e9, 0.4e-3, numel=2**28),
        # 4 GiB (2 GiB read, 2 GiB written) in 1 ms: 4.295 TB/s.
        _row("copy", "copy", "bf16", 0.0, 2 * 2**31, 1e-3, numel=2**30),
        _row("copy", "copy", "bf16", 0.0, 4.0, 5e-6, numel=1),
    ]
    csv_path, _ = write_measurements(pd.DataFrame(rows), meta, tmp_path, "kernels-full")
    m = read_measurements(csv_path)
    spec = load_device(str(write_spec(m, tmp_path, tdp_of(gpu, None, None, "2026-01-02"))))
    assert spec.name == "nvidia-h200-measured" and spec.compute_units == 132
    assert spec.matrix_peak(DType.BF16) == pytest.approx(785.4e12, rel=1e-3)
    assert spec.matrix_peak(DType.FP32) == pytest.approx(54.98e12, rel=1e-3)
    assert spec.vector_peak(DType.BF16) == pytest.approx(2**28 / 0.4e-3, rel=1e-3)
    assert spec.mem_bw_bytes_per_s == pytest.approx(4.295e12, rel=1e-3)
    assert spec.l2_bytes == pytest.approx(62.91e6, rel=1e-3) and spec.clock_hz == 1.98e9
    assert spec.tdp_w == 700 and "nvidia-smi power.limit" in spec.sources["power.tdp_W"]
    assert spec.defaults.kernel_overhead_s == pytest.approx(5e-6)
