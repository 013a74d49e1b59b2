"""The pieces of `archsim bench`: grids, FLOP/byte counts, buffer rotation, timer, TDP."""

from __future__ import annotations

import time

import pytest

from validation.measure.bench_session import buffer_sets
from validation.measure.bench_shapes import BENCH_KERNELS, CPU_FULL, Case, build_grid, grid_for
from validation.measure.emit_spec import tdp_of
from validation.measure.fingerprint import usable_cpus
from validation.measure.host_load import HostLoad, busy_warning
from validation.measure.kernel_work import work_of
from validation.measure.timing import Clock, TimingPlan, time_kernel


@pytest.mark.parametrize("device,quick", [("cpu", True), ("cpu", False), ("cuda", True),
                                          ("cuda", False)])
def test_every_grid_covers_every_kernel_class_with_known_ops(device, quick):
    from validation.measure.bench_kernels import _BUILDERS

    cases = grid_for(device, quick)
    assert {c.kernel for c in cases} == set(BENCH_KERNELS)
    assert len(set(cases)) == len(cases)
    for case in cases:
        work = work_of(case)
        assert case.op in _BUILDERS and work.read_bytes > 0 and work.write_bytes > 0


def test_grids_hold_skinny_decode_gemms_and_gqa_attention():
    cases = build_grid(CPU_FULL, "fp32")
    decode_m = {c.m for c in cases if c.op == "mm" and c.m <= 64}
    assert {1, 2, 4, 8, 16, 32, 64} <= decode_m
    assert any(c.op == "sdpa_decode" and c.heads > c.kv_heads for c in cases)
    assert any(c.op == "sdpa_prefill" and c.causal and c.heads > c.kv_heads for c in cases)
    cuda = grid_for("cuda", False)
    assert {c.dtype for c in cuda} == {"bf16", "fp32"}
    assert {c.kernel for c in cuda if c.dtype == "fp32"} == {"gemm", "elementwise"}


def test_gemm_work_by_hand():
    # 64 x 128 x 256 fp32 in a batch of 2: 2*2*64*128*256 = 8,388,608 FLOP;
    # reads 2*(64*256 + 256*128)*4 = 393,216 B; writes 2*64*128*4 = 65,536 B.
    w = work_of(Case("gemm", "bmm", "fp32", m=64, n=128, k=256, batch=2))
    assert (w.flops, w.read_bytes, w.write_bytes, w.launches) == (8388608, 393216, 65536, 1)


def test_attention_work_by_hand():
    # Causal prefill B=1, H=4, Hkv=2, S=8, d=16, bf16: 4*4*8*8*16 = 16,384 full,
    # times (8+1)/(2*8) = 9/16 unmasked -> 9,216 FLOP. Q and O 4*8*16 = 512 elements each,
    # K and V 2*8*16 = 256 each: reads (512 + 512) * 2 B, writes 512 * 2 B.
    w = work_of(Case("attention", "sdpa_prefill", "bf16", batch=1, heads=4, kv_heads=2,
                     q_len=8, kv_len=8, head_dim=16, causal=True))
    assert (w.flops, w.read_bytes, w.write_bytes) == (9216, 2048, 1024)
    # Decode attends to all of the cache: 4*2*4*1*100*16 = 51,200 FLOP.
    w = work_of(Case("attention", "sdpa_decode", "bf16", batch=2, heads=4, kv_heads=4,
                     q_len=1, kv_len=100, head_dim=16, causal=False))
    assert w.flops == 51200


def test_pointwise_and_memory_work_by_hand():
    silu = work_of(Case("elementwise", "silu_mul", "fp32", numel=1000))
    assert (silu.flops, silu.read_bytes, silu.write_bytes, silu.launches) == (2000, 8000,
                                                                              4000, 2)
    emb = work_of(Case("embedding", "embedding", "bf16", rows=10, cols=64, vocab=50000))
    assert (emb.flops, emb.read_bytes, emb.write_bytes) == (0, 10 * 64 * 2 + 10 * 8, 1280)
    norm = work_of(Case("norm", "layer_norm", "fp32", rows=2, cols=8))
    assert (norm.flops, norm.read_bytes) == (7 * 16, (16 + 16) * 4)


def test_bad_cases_are_refused():
    with pytest.raises(ValueError, match="unknown kernel class"):
        Case("conv", "mm", "fp32")
    with pytest.raises(ValueError, match="m must be at least 1"):
        Case("gemm", "mm", "fp32", m=0, n=1, k=1)
    with pytest.raises(ValueError, match="unknown device"):
        grid_for("tpu", True)


def test_buffer_sets_leave_the_cache_within_memory():
    assert buffer_sets(1e6, 1e6, flush_bytes=64e6, cap_bytes=1e12) == 64
    assert buffer_sets(1e3, 1e3, flush_bytes=64e6, cap_bytes=1e12) == 512  # capped at 512
    assert buffer_sets(10e6, 1e6, flush_bytes=64e6, cap_bytes=1e12) == 7
    assert buffer_sets(1e9, 1e9, flush_bytes=64e6, cap_bytes=1e12) == 2    # rotate anyway
    assert buffer_sets(1e9, 1e9, flush_bytes=64e6, cap_bytes=3e9) == 1     # memory first


def test_timer_measures_a_known_sleep():
    plan = TimingPlan(warmup_s=0.003, min_total_s=0.03, min_repeats=5, max_repeats=40,
                      sample_target_s=1e-5)
    seen: list[int] = []

    def fn(i: int) -> None:
        seen.append(i)
        time.sleep(2e-3)

    t = time_kernel(fn, Clock("cpu"), plan)
    assert 2e-3 <= t.p10_s <= t.median_s <= t.p90_s < 20e-3
    assert t.inner == 1 and 5 <= t.repeats <= 40 and t.noise >= 0
    assert len(set(seen[-t.repeats:])) == t.repeats   # every call gets the next buffer index


def test_tdp_comes_from_the_user_or_the_device_never_a_guess():
    vm = {"kind": "cpu", "name": "AMD EPYC", "power_limit_w": None}
    assert tdp_of(vm, None, None, "2026-01-01") is None   # left out, listed in not_sourced
    with pytest.raises(ValueError, match="--tdp-source"):
        tdp_of(vm, 120, None, "2026-01-01")
    assert tdp_of(vm, 120, "vendor datasheet, table 2", "2026-01-01") == (
        120.0, "vendor datasheet, table 2")
    gpu = {"kind": "cuda", "name": "NVIDIA H200", "power_limit_w": 700.0}
    value, source = tdp_of(gpu, None, None, "2026-01-01")
    assert value == 700.0 and "nvidia-smi power.limit" in source


def test_a_busy_cpu_is_reported():
    def meta(kind="cpu", **host):
        return {"device": {"kind": kind}, "host_load": {"cpus": 2, **host}}

    assert "used 50% of the 2 CPUs" in busy_warning(meta(other_cpu_share=0.5))
    assert "load average was 1.5" in busy_warning(meta(load_average_before=[1.5, 1, 1]))
    assert busy_warning(meta(other_cpu_share=0.05, load_average_before=[0.2, 1, 1])) is None
    assert busy_warning(meta("cuda", other_cpu_share=0.9)) is None
    assert busy_warning({"device": {"kind": "cpu"}}) is None


def test_host_load_counts_other_processes_not_our_own():
    import subprocess
    import sys

    load = HostLoad(usable_cpus())
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\n"
                             "while time.time() - t < 0.6: pass"])
    spin.wait()
    sum(i * i for i in range(300_000))          # our own work does not count
    host = load.read()
    assert host["other_cpu_s"] >= 0.3 and 0 < host["other_cpu_share"] <= 1


def test_a_spent_time_budget_measures_nothing_and_says_so(tmp_path):
    from validation.measure.bench import bench_to_folder

    with pytest.raises(ValueError, match="time budget ran out"):
        bench_to_folder("cpu", quick=True, out=tmp_path, budget_s=0.0, progress=False)
    assert not list(tmp_path.rglob("*.csv"))


def test_data_run_replays_name_models_that_load():
    from validation.measure.data_runs import REPLAYS
    from workloads.config import find_config, hf_config

    for device, runs in REPLAYS.items():
        assert {phase for _, phase, *_ in runs} == {"prefill", "decode", "train"}, device
        for model, phase, batch, seq, context in runs:
            hf_config(find_config(model))
            if phase == "decode":
                assert seq == 1 and context > 0 and batch >= 1
            else:
                assert seq > 1 and context == 0 and batch >= 1
