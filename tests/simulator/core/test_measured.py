"""The measured backend: interpolation on synthetic grids worked by hand, the coverage and
fallback rules, the refusals, and measured times replacing the model's in a simulation."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwspecs import load_device
from hwspecs.dtypes import DType
from simulator import KernelSource, Options, Precision, simulate, workload_kernel_check
from simulator.core.measured_grid import MARGIN_LOG2, LogGrid
from simulator.core.measured_pricing import measured_share, parse_kernels
from simulator.core.measured_tables import (
    Fallback,
    build_grids,
    measured_kernels,
    records_folder,
)
from tests.workloads.traced import config_path
from workloads import get_workload

COLUMNS = ["kernel", "op", "impl", "dtype", "kv_dtype", "m", "n", "k", "batch", "heads",
           "kv_heads", "q_len", "kv_len", "head_dim", "gpus", "message_bytes", "median_s"]


def gemm_time_s(m, n, k):
    """A power law: 1 ns x m^0.5 x n x k^0.25 (exactly a plane in log space)."""
    return 1e-9 * np.sqrt(m) * n * k ** 0.25


def gemm_records(dtype: str = "bf16") -> pd.DataFrame:
    m, n, k = (a.ravel() for a in np.meshgrid([1, 4, 16], [16, 64, 256], [16, 64, 256]))
    return pd.DataFrame({"kernel": "gemm", "op": "mm", "impl": "x", "dtype": dtype,
                         "m": m, "n": n, "k": k, "batch": 1,
                         "median_s": gemm_time_s(m, n, k)}).reindex(columns=COLUMNS)


def write_records(folder, frame: pd.DataFrame, device="h100-sxm", engine="trtllm"):
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "kernels.csv", index=False)
    (folder / "kernels-full.json").write_text(json.dumps(
        {"csv": "kernels.csv", "device_ref": device, "engine": engine}))
    return folder


def test_a_power_law_is_interpolated_exactly():
    # log2 t = log2 1e-9 + 0.5 log2 m + log2 n + 0.25 log2 k: a plane, which the local linear
    # fit reproduces between the points: m=2, n=32, k=32 -> 1e-9 x 1.414 x 32 x 2.378.
    grid = LogGrid(np.column_stack([gemm_records()[c] for c in "mnk"]),
                   gemm_records()["median_s"])
    found = grid.lookup(np.array([[2, 32, 32], [4, 64, 64]]))
    assert found.seconds == pytest.approx([1e-9 * 2 ** 0.5 * 32 * 32 ** 0.25,
                                           gemm_time_s(4, 64, 64)], rel=1e-9)
    assert found.covered.all()


def test_two_neighbours_interpolate_linearly_in_log_space():
    # Points (1, 1 s), (2, 2 s), (4, 2 s): at x = 2**0.5 the two nearest are x = 1 and 2, so
    # log2 t = 0.5 halfway: t = 2**0.5 s. At x = 2**1.5, between 2 s and 2 s: 2 s.
    grid = LogGrid(np.array([[1.0], [2.0], [4.0]]), np.array([1.0, 2.0, 2.0]), neighbours=2)
    found = grid.lookup(np.array([[2 ** 0.5], [2 ** 1.5], [2.0]]))
    assert found.seconds == pytest.approx([2 ** 0.5, 2.0, 2.0], rel=1e-6)


def test_leave_one_out_prices_each_point_from_the_others():
    # Leaving out x = 2 of (1, 1 s), (2, 2 s), (4, 4 s) leaves a line through 1 and 4: 2 s.
    grid = LogGrid(np.array([[1.0], [2.0], [4.0]]), np.array([1.0, 2.0, 4.0]), neighbours=2)
    assert grid.lookup(np.array([[2.0]]), leave_out=True).seconds == pytest.approx([2.0])


def test_the_margin_beyond_the_measured_range():
    grid = LogGrid(np.array([[1.0], [2.0], [4.0]]), np.array([1.0, 2.0, 4.0]))
    inside = 4.0 * 2 ** (MARGIN_LOG2 * 0.9)
    outside = 4.0 * 2 ** (MARGIN_LOG2 * 1.1)
    found = grid.lookup(np.array([[inside], [outside]]))
    assert found.covered.tolist() == [True, False]
    assert found.seconds[0] == pytest.approx(inside)      # extrapolated along the line


def _tiny_decode():
    return get_workload(config_path("tiny-llama"), "decode", batch=2, seq=1, context=8,
                        dtype=DType.BF16)


def test_measured_gemms_replace_the_model_and_the_rest_falls_back(tmp_path):
    folder = write_records(tmp_path / "rec", gemm_records())
    device = load_device("h100-sxm")
    w = _tiny_decode()
    options = Options(engine="trtllm", kernels=KernelSource.MEASURED, kernels_dir=str(folder))
    report = simulate(w, device, options)
    model = simulate(w, device, Options(engine="trtllm"))
    gemm = report.arrays.kernel_class == "gemm"
    a = report.arrays
    assert report.ops.time_s[gemm] == pytest.approx(gemm_time_s(a.m, a.n, a.k)[gemm],
                                                    rel=1e-9)
    assert report.ops.time_s[~gemm] == pytest.approx(model.ops.time_s[~gemm])
    # Parts still sum to the total.
    assert report.ops.busy_s + report.ops.overhead_s == pytest.approx(report.ops.time_s)
    frame = workload_kernel_check(w, device, options)
    reasons = dict(zip(frame["kernel_class"], frame["reason"], strict=False))
    assert reasons["norm"] == Fallback.NO_TABLE.value
    assert reasons["attention_decode"] == Fallback.DTYPE.value     # no attention table
    share = measured_share(frame)
    gemm_s = float((frame["priced_s"] * frame["count"])[frame["kernel_class"] == "gemm"].sum())
    total_s = float((frame["priced_s"] * frame["count"]).sum())
    assert share["measured_share"] == pytest.approx(gemm_s / total_s)
    assert share["measured_share_by_class"]["gemm"] == 1.0
    assert total_s == pytest.approx(report.time_s)
    # Another dtype is not measured: fp8 GEMMs fall back.
    fp8 = replace(options, precision=Precision.parse("fp8"))
    assert set(workload_kernel_check(w, device, fp8)["reason"]) >= {Fallback.DTYPE.value}
    assert measured_share(workload_kernel_check(w, device, fp8))["measured_share"] == 0.0


def test_shapes_out_of_range_batched_and_grouped_gemms_fall_back():
    from simulator.core.arrays import DTYPE_CODE, KIND_CODE, OpArrays
    from workloads.op import OpKind

    grids = build_grids(gemm_records())
    kinds = [OpKind.GEMM, OpKind.GEMM, OpKind.GEMM, OpKind.GROUPED_GEMM]
    z = np.zeros(4)
    a = OpArrays(kind=np.array([KIND_CODE[k] for k in kinds]), flops=np.ones(4),
                 weight_read_bytes=z, act_read_bytes=z, act_write_bytes=z, kv_read_bytes=z,
                 kv_write_bytes=z, other_bytes=z,
                 compute_dtype=np.full(4, DTYPE_CODE[DType.BF16]),
                 m=np.array([4.0, 4096.0, 4.0, 4.0]), n=np.full(4, 64.0), k=np.full(4, 64.0),
                 batch=np.array([1.0, 1.0, 8.0, 4.0]), weight_elements=z,
                 layer=np.zeros(4, int), pass_=np.zeros(4, int), names=("a", "b", "c", "d"))
    from simulator.core.measured_tables import MeasuredKernels

    found = MeasuredKernels("h100-sxm", "trtllm", grids=grids).lookup(
        a, DType.BF16, Precision.parse("bf16"))
    assert found.reasons().tolist() == [Fallback.MEASURED.value, Fallback.RANGE.value,
                                        Fallback.BATCHED.value, Fallback.GROUPED.value]
    assert found.seconds[0] == pytest.approx(gemm_time_s(4, 64, 64))


def test_collectives_by_bytes_and_gpu_count():
    sizes = np.array([1024.0, 4096.0, 16384.0])
    frame = pd.DataFrame({"kernel": "collective", "op": "all_reduce", "impl": "NCCL",
                          "dtype": "fp16", "gpus": 8, "message_bytes": sizes,
                          "median_s": sizes * 1e-9}).reindex(columns=COLUMNS)
    from simulator.core.measured_tables import MeasuredKernels

    m = MeasuredKernels("h100-sxm", "trtllm", grids=build_grids(frame))
    seconds, _ = m.collective_s("all_reduce", np.array([2048.0, 0.0]), 8)
    assert seconds == pytest.approx([2048e-9, 0.0])
    _, reason = m.collective_s("all_reduce", np.array([2048.0]), 4)
    assert reason.tolist() == [list(Fallback).index(Fallback.GPUS)]


def test_records_of_another_device_or_engine_are_refused(tmp_path):
    write_records(tmp_path / "a100", gemm_records(), device="a100-sxm-80gb")
    write_records(tmp_path / "vllm", gemm_records(), engine="vllm")
    with pytest.raises(ValueError, match="no imported records"):
        records_folder("h100-sxm", "trtllm", tmp_path / "nothing")
    with pytest.raises(ValueError, match="records are of a100-sxm-80gb, not h100-sxm"):
        records_folder("h100-sxm", "trtllm", tmp_path / "a100")
    with pytest.raises(ValueError, match="measured under vllm, not trtllm"):
        records_folder("h100-sxm", "trtllm", tmp_path / "vllm")
    with pytest.raises(ValueError, match="use model, measured or measured:DIR"):
        parse_kernels("tables")
    assert parse_kernels("measured:/x") == (KernelSource.MEASURED, "/x")
    assert parse_kernels("model") == (KernelSource.MODEL, None)


def test_a_device_nobody_measured_falls_back_whole():
    # No committed records of b200: every kernel is the model's, and says why.
    m = measured_kernels("b200", "trtllm")
    assert m.empty
    frame = workload_kernel_check(_tiny_decode(), load_device("b200"),
                                  Options(kernels=KernelSource.MEASURED))
    assert set(frame["reason"]) == {Fallback.NO_SET.value}


def test_grids_are_built_once_per_state_of_the_records(tmp_path):
    folder = write_records(tmp_path / "rec", gemm_records())
    first = measured_kernels("h100-sxm", "trtllm", folder)
    assert measured_kernels("h100-sxm", "trtllm", folder) is first
    write_records(folder, pd.concat([gemm_records(), gemm_records("fp8")]))
    again = measured_kernels("h100-sxm", "trtllm", folder)
    assert again is not first and ("gemm", "fp8") in again.grids


def test_training_gemms_are_looked_up_and_backward_attention_falls_back(tmp_path):
    folder = write_records(tmp_path / "rec", gemm_records())
    w = get_workload(config_path("tiny-llama"), "train", batch=1, seq=16, dtype=DType.BF16)
    frame = workload_kernel_check(w, load_device("h100-sxm"), Options(
        engine="trtllm", kernels=KernelSource.MEASURED, kernels_dir=str(folder)))
    attention = frame[frame["kernel_class"].str.startswith("attention")]
    assert Fallback.BACKWARD.value in set(attention["reason"])
    assert (frame[frame["kernel_class"] == "gemm"]["source"] == "measured").any()


def test_the_plan_check_total_is_the_step_the_simulation_prices():
    # Committed H100 trtllm records: the kernel table's priced total (covered kernels and TP
    # all-reduces measured, the rest the model's) is the step time inference uses.
    from simulator import Plan, plan_kernel_check, system_for_gpus
    from simulator.inference.step import step_times

    w = _tiny_decode()
    system = system_for_gpus("dgx-h100", 2)
    options = Options(engine="trtllm", kernels=KernelSource.MEASURED)
    frame = plan_kernel_check(w, system, Plan(tp=2), options)
    step = step_times(w, system, Plan(tp=2), options, options.profile_for(system.device))
    assert float((frame["priced_s"] * frame["count"]).sum()) == pytest.approx(
        float(step.time_s[0]), rel=1e-12)
    model = step_times(w, system, Plan(tp=2), Options(engine="trtllm"),
                       Options(engine="trtllm").profile_for(system.device))
    assert float((frame["model_s"] * frame["count"]).sum()) == pytest.approx(
        float(model.time_s[0]), rel=1e-12)
    assert (frame[frame["kernel_class"] == "collective"]["source"] == "measured").all()
