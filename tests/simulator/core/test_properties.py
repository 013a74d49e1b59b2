"""Properties of the single-device cost model (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.options import Options
from simulator.core.simulate import simulate
from tests.simulator.synthetic import elementwise, gemm, round_device, workload

dims = st.integers(min_value=1, max_value=8192)
factors = st.floats(min_value=1.0, max_value=16.0)


def _mixed(m: int, n: int, k: int):
    return workload([gemm(m, n, k), elementwise(m * n), gemm(m, k, n)])


def _scale(dev, k: float, what: str):
    return dev.scaled(**{what: k})


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=dims, f=factors, what=st.sampled_from(["matrix", "vector", "mem_bw"]))
def test_faster_hardware_never_slows_anything(m, n, k, f, what):
    w = _mixed(m, n, k)
    dev = round_device()
    base = simulate(w, dev)
    faster = simulate(w, _scale(dev, f, what))
    assert (faster.ops.time_s <= base.ops.time_s * (1 + 1e-12)).all()


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=dims, extra=st.integers(min_value=1, max_value=4096))
def test_more_rows_never_faster_in_ideal_mode(m, n, k, extra):
    # More batch or sequence means more GEMM rows (M) and more elements.
    opts = Options(ideal=True)
    small = simulate(_mixed(m, n, k), round_device(), opts)
    large = simulate(_mixed(m + extra, n, k), round_device(), opts)
    assert large.time_s >= small.time_s * (1 - 1e-12)


@settings(max_examples=60, deadline=None)
@given(m=dims, n=dims, k=dims, f=factors)
def test_scaling_every_rate_by_k_divides_time_by_k_without_overheads(m, n, k, f):
    w = _mixed(m, n, k)
    dev = round_device()
    opts = Options(ideal=True)
    base = simulate(w, dev, opts).time_s
    fast = simulate(w, dev.scaled(matrix=f, vector=f, mem_bw=f), opts).time_s
    assert abs(fast * f - base) <= 1e-9 * base


@settings(max_examples=40, deadline=None)
@given(m=dims, n=dims, k=dims)
def test_totals_are_the_sums_of_their_parts(m, n, k):
    r = simulate(_mixed(m, n, k), round_device())
    frame = r.to_frame()
    assert abs(frame["time_s"].sum() - r.time_s) <= 1e-12 * max(r.time_s, 1e-30)
    assert abs(r.by_kind()["time_s"].sum() - r.time_s) <= 1e-12 * r.time_s
    assert abs(frame["flops"].sum() - r.hardware_flops) <= 1e-9 * r.hardware_flops
    parts = r.footprint
    assert parts.total_bytes == (parts.weights_bytes + parts.kv_cache_bytes
                                 + parts.activation_bytes + parts.gradient_bytes
                                 + parts.optimizer_bytes)
