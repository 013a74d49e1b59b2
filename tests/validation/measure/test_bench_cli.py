"""`archsim bench --quick` on this CPU, in-process, into a temporary folder."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from archsim_cli.app import main
from validation.measure.bench_shapes import BENCH_KERNELS
from validation.measure.fingerprint import usable_cpus
from validation.measure.records import FORMAT_VERSION, read_measurements, with_rates

# Physical ceilings for any CPU this suite runs on (a 2-core VM reaches ~0.1 TFLOP/s, ~20 GB/s).
CPU_MAX_FLOPS_PER_S = 10e12
CPU_MAX_BYTES_PER_S = 1e12
TEST_TDP = ["--tdp-w", "200", "--tdp-source", "test input, not a real TDP figure"]


def _cli(args: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(args)
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    rc, text = _cli(["bench", "--device", "cpu", "--quick", "--out", str(folder),
                     "--no-progress", "--json"])
    assert rc == 0
    return json.loads(text)


def test_quick_bench_writes_every_kernel_class(quick):
    m = read_measurements(quick["csv_path"])
    assert set(m.frame["kernel"]) == set(BENCH_KERNELS)
    assert m.meta["format_version"] == FORMAT_VERSION and m.meta["grid"] == "quick"
    assert m.meta["complete"] and not m.meta["skipped"]
    assert (m.frame["median_s"] > 0).all() and (m.frame["repeats"] >= 5).all()
    assert (m.frame["p10_s"] <= m.frame["median_s"]).all()
    assert (m.frame["median_s"] <= m.frame["p90_s"]).all()
    assert set(m.frame["dtype"]) == {"fp32"}


def test_quick_bench_rates_are_physical(quick):
    rated = with_rates(read_measurements(quick["csv_path"]).frame)
    gemm = rated.loc[rated["kernel"] == "gemm", "flops_per_s"]
    copy = rated.loc[(rated["kernel"] == "copy") & (rated["numel"] > 1), "bytes_per_s"]
    assert 0 < gemm.max() < CPU_MAX_FLOPS_PER_S
    assert 0 < copy.max() < CPU_MAX_BYTES_PER_S
    assert (rated["bytes_per_s"] < CPU_MAX_BYTES_PER_S).all()


def test_quick_bench_records_fingerprint_and_versions(quick):
    meta = read_measurements(quick["json_path"]).meta
    device = meta["device"]
    assert device["kind"] == "cpu" and device["name"]
    assert device["threads"] == usable_cpus() == meta["settings"]["torch_threads"]
    assert meta["slug"].startswith("cpu-") and meta["slug"] in quick["csv_path"]
    assert meta["versions"]["torch"] and meta["versions"]["pandas"]
    assert meta["date"] == meta["created_utc"][:10]
    assert quick["kernels"] and all(k["cases"] >= 1 for k in quick["kernels"])


def test_emitted_spec_loads_with_the_measured_peaks(quick, tmp_path):
    from hwspecs import DType, load_device
    from hwspecs.rules import DEVICE_RULES

    rated = with_rates(read_measurements(quick["csv_path"]).frame)
    best_gemm = rated.loc[rated["kernel"].isin(["gemm", "grouped_gemm"]), "flops_per_s"].max()
    largest_copy = rated[(rated["kernel"] == "copy") & (rated["numel"] == rated["numel"].max())]
    floor = DEVICE_RULES["memory"]["bw_TBps"].lo
    if largest_copy["bytes_per_s"].max() < floor:
        pytest.skip(f"this machine is too busy to emit a spec: copies ran at "
                    f"{largest_copy['bytes_per_s'].max() / 1e9:.1f} GB/s, below the spec floor "
                    f"of {floor / 1e9:.0f} GB/s (test_bench_spec covers emission)")
    vector = rated.loc[rated["kernel"].isin(["norm", "softmax", "elementwise"]), "flops_per_s"]
    vector_floor = DEVICE_RULES["vector_TFLOPS"]["fp32"].lo * 1e12
    if vector.max() < vector_floor:
        pytest.skip(f"this machine is too busy to emit a spec: vector kernels ran at "
                    f"{vector.max() / 1e9:.2f} GFLOP/s, below the spec floor")
    rc, text = _cli(["bench", "--emit-spec", "--from", quick["csv_path"], "--out",
                     str(tmp_path), "--json", *TEST_TDP])
    assert rc == 0
    spec = load_device(json.loads(text)["spec_path"])
    assert spec.matrix_peak(DType.FP32) == pytest.approx(best_gemm, rel=1e-3)
    assert spec.mem_bw_bytes_per_s == pytest.approx(largest_copy["bytes_per_s"].max(), rel=1e-3)
    assert spec.defaults.kernel_overhead_s == pytest.approx(rated["median_s"].min(), rel=1e-3)
    assert spec.tdp_w == 200 and spec.compute_units == usable_cpus()
    assert "measured by archsim bench on" in spec.sources["matrix_dense_TFLOPS.fp32"]


def test_emit_spec_without_tdp_source_is_refused(quick, tmp_path, capsys):
    rc = main(["bench", "--emit-spec", "--from", quick["csv_path"], "--out", str(tmp_path),
               "--tdp-w", "200"])
    assert rc == 2
    assert "--tdp-source" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_from_without_emit_spec_is_refused(quick, capsys):
    assert main(["bench", "--from", quick["csv_path"]]) == 2
    assert "--emit-spec" in capsys.readouterr().err


def test_cuda_without_a_gpu_is_one_clear_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert main(["bench", "--device", "cuda", "--quick", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "sees no CUDA device" in err and len(err.strip().splitlines()) == 1
