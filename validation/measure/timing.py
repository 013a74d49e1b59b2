"""Timing one kernel: warm-up, many repeats, percentiles of the per-call time.

CPU: `time.perf_counter` around each sample, garbage collection paused. CUDA: a pair of CUDA
events around each sample and one synchronize at the end. A sample is `inner` back-to-back
calls, so kernels shorter than the timer's resolution are timed as a stream, the way a model
launches them; the reported time is per call.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimingPlan:
    """How long and how often to time each case."""

    warmup_s: float          # warm-up time before measuring (two calls at least)
    min_total_s: float       # measured time per case, at least
    min_repeats: int         # samples per case, at least
    max_repeats: int         # samples per case, at most
    sample_target_s: float   # a sample groups calls until it lasts about this long
    max_inner: int = 1000    # calls per sample, at most


QUICK_PLAN = TimingPlan(warmup_s=0.01, min_total_s=0.03, min_repeats=5, max_repeats=50,
                        sample_target_s=2e-5)
CPU_PLAN = TimingPlan(warmup_s=0.05, min_total_s=0.25, min_repeats=7, max_repeats=200,
                      sample_target_s=2e-5)
CUDA_PLAN = TimingPlan(warmup_s=0.05, min_total_s=0.12, min_repeats=20, max_repeats=400,
                       sample_target_s=1e-4)


@dataclass(frozen=True)
class Timing:
    """Per-call seconds: percentiles over `repeats` samples of `inner` calls each."""

    median_s: float
    p10_s: float
    p25_s: float
    p75_s: float
    p90_s: float
    repeats: int
    inner: int

    @property
    def noise(self) -> float:
        """Relative interquartile range: (p75 - p25) / median."""
        return (self.p75_s - self.p25_s) / self.median_s


class Clock:
    """Wall-clock timing of a stretch of calls on one device (CPU or one CUDA device)."""

    def __init__(self, device: str) -> None:
        self.device = device
        if device == "cuda":
            import torch

            self._torch = torch

    def sync(self) -> None:
        if self.device == "cuda":
            self._torch.cuda.synchronize()

    def wall(self, fn: Callable[[int], object], calls: int, start: int = 0) -> float:
        """Seconds per call for `calls` calls, synchronized before and after."""
        self.sync()
        t0 = time.perf_counter()
        for i in range(calls):
            fn(start + i)
        self.sync()
        return (time.perf_counter() - t0) / calls

    def samples(self, fn: Callable[[int], object], repeats: int, inner: int) -> np.ndarray:
        """Per-call seconds of `repeats` samples of `inner` calls each."""
        if self.device == "cuda":
            return self._cuda_samples(fn, repeats, inner)
        out = np.empty(repeats)
        call = 0
        for r in range(repeats):
            t0 = time.perf_counter()
            for _ in range(inner):
                fn(call)
                call += 1
            out[r] = (time.perf_counter() - t0) / inner
        return out

    def _cuda_samples(self, fn: Callable[[int], object], repeats: int,
                      inner: int) -> np.ndarray:
        event = self._torch.cuda.Event
        pairs = [(event(enable_timing=True), event(enable_timing=True)) for _ in range(repeats)]
        self.sync()
        call = 0
        for start, end in pairs:
            start.record()
            for _ in range(inner):
                fn(call)
                call += 1
            end.record()
        self.sync()
        return np.array([s.elapsed_time(e) * 1e-3 / inner for s, e in pairs])


def time_kernel(fn: Callable[[int], object], clock: Clock, plan: TimingPlan) -> Timing:
    """Warm `fn` up, size the samples from its speed, and time it. `fn(i)` runs call i."""
    first = clock.wall(fn, 1)
    warm_calls = int(min(50, max(1, math.ceil(plan.warmup_s / max(first, 1e-9)))))
    estimate = clock.wall(fn, warm_calls, start=1)
    inner = int(min(plan.max_inner, max(1, math.ceil(plan.sample_target_s / estimate))))
    repeats = int(min(plan.max_repeats,
                      max(plan.min_repeats, math.ceil(plan.min_total_s / (estimate * inner)))))
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        per_call = clock.samples(fn, repeats, inner)
    finally:
        if was_enabled:
            gc.enable()
    p10, p25, p50, p75, p90 = np.percentile(per_call, [10, 25, 50, 75, 90])
    return Timing(float(p50), float(p10), float(p25), float(p75), float(p90), repeats, inner)
