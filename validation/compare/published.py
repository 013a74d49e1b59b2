"""Predictions vs the published multi-GPU results: error per case, median and worst per source.

    result = compare_published()                 # every case the simulator can express
    result.summary()                             # per source: cases, median |error|, worst
    result.to_frame()                            # one row per case (pandas)

error = predicted / published - 1, on the metric as published: Megatron-LM's TFLOP/s per GPU
(our step time through the paper's own FLOP formula), MPT's tokens/s per GPU, TensorRT-LLM's
output tokens/s per GPU, gpt-fast's tokens/s of one request. Nothing is fitted to these rows:
the simulator runs with the shipped specs and their default efficiency profiles.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.inference.request import InferenceWorkloads, decode_context, simulate_inference
from simulator.parallel.systems import system_for_gpus
from simulator.training.step import evaluate, prepare
from validation.compare.published_cases import (
    SOURCES,
    InferCase,
    Skipped,
    TrainCase,
    inference_cases,
    megatron_flops_per_step,
    training_cases,
)
from validation.compare.published_traces import Workloads, position_family, steps_of


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    source: str
    configuration: str
    metric: str
    predicted: float | None
    published: float
    feasible: bool | None
    note: str

    @property
    def error(self) -> float | None:
        return None if self.predicted is None else self.predicted / self.published - 1.0


@dataclass(frozen=True)
class SourceSummary:
    source: str
    cases: int
    median_abs_error: float
    worst_error: float          # signed, the largest in magnitude
    worst_case: str


@dataclass(frozen=True)
class PublishedComparison:
    results: tuple[CaseResult, ...]
    skipped: tuple[Skipped, ...]

    def summary(self) -> list[SourceSummary]:
        out = []
        for source in SOURCES:
            rows = [r for r in self.results if r.source == source and r.error is not None]
            if not rows:
                continue
            worst = max(rows, key=lambda r: abs(r.error))
            out.append(SourceSummary(source, len(rows),
                                     statistics.median(abs(r.error) for r in rows),
                                     worst.error, worst.case_id))
        return out

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{**vars(r), "error": r.error} for r in self.results])

    def as_dict(self) -> dict[str, Any]:
        return {"cases": [{**vars(r), "error": r.error} for r in self.results],
                "summary": [vars(s) for s in self.summary()],
                "skipped": [vars(s) for s in self.skipped]}


class _Workloads(Workloads):
    """Traced workloads (`published_traces.Workloads`) and prepared training contexts."""

    def prepared(self, case: TrainCase, system):
        key = ("prep", case.model.ref(), case.seq, system.name, case.dtype,
               case.disabled_passes)
        if key not in self.cache:
            w = self.get(case.model.ref(), "train", 1, case.seq, 0, case.disabled_passes,
                         family=position_family(case))
            options = Options(precision=Precision.parse(case.dtype))
            self.cache[key] = prepare(w, system, options)
        return self.cache[key]


def _train(case: TrainCase, ws: _Workloads) -> tuple[float, bool]:
    system = system_for_gpus(case.system, None)
    report = evaluate(ws.prepared(case, system), case.plan)
    if case.metric == "tflops_per_gpu":
        layers, hidden, vocab = case.dims
        flops = megatron_flops_per_step(case.plan.batch, case.seq, layers, hidden, vocab)
        value = flops / report.step_time_s / case.plan.gpus / 1e12
    else:
        value = report.tokens_per_s / report.gpus
    return value, report.feasible


def _infer(case: InferCase, ws: _Workloads) -> tuple[float, bool]:
    system = system_for_gpus(case.system, None)
    ref = case.model.ref()
    prefill = ws.get(ref, "prefill", case.batch, case.input_len)
    decode = ws.get(ref, "decode", case.batch, 1, decode_context(case.input_len,
                                                                 case.output_len))
    report = simulate_inference(InferenceWorkloads(prefill, decode, decode, case.output_len),
                                system, case.plan,
                                Options(precision=Precision.parse(**case.precision)))
    value = report.tokens_per_s_per_gpu if case.metric == "tokens_per_s_per_gpu" \
        else report.tokens_per_s
    return value, report.feasible


def _configuration(case: TrainCase | InferCase) -> str:
    if isinstance(case, TrainCase):
        return (f"{case.model.name} on {case.system}: {case.plan.label()}, seq {case.seq}, "
                f"global batch {case.plan.batch}, {case.dtype}")
    return (f"{case.model.name} on {case.system}: {case.plan.serving_label()}, "
            f"batch {case.batch}, "
            f"{case.input_len} in / {case.output_len} out, {case.precision}")


def compare_published(sources: Iterable[str] | None = None,
                      case_ids: Iterable[str] | None = None,
                      progress: Callable[[str], None] | None = None,
                      workers: int | None = None) -> PublishedComparison:
    """Run every expressible case (of `sources`, or these `case_ids`) and compare.

    The cases of one model run together (they share its traces); models run on `workers`
    processes (default: the CPU count; 1 runs them in this process), as tracing is the slow
    part of a cold run. `progress` is called with each case id as its model's cases finish."""
    wanted = set(sources) if sources is not None else set(SOURCES)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown published source(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(SOURCES)}")
    ids = set(case_ids) if case_ids is not None else None
    train, skipped_t = training_cases()
    infer, skipped_i = inference_cases()
    cases = [c for c in (*train, *infer)
             if c.source in wanted and (ids is None or c.case_id in ids)]
    groups: dict[str, list[int]] = {}      # by model (or family of models: one template)
    for i, case in enumerate(cases):
        groups.setdefault(position_family(case) or case.model.ref(), []).append(i)
    # Most distinct workloads first, so the last model to finish is a small one.
    order = sorted(groups.values(), key=lambda g: -len({s for i in g for s in steps_of(cases[i])}))
    results: dict[int, CaseResult] = {}
    for done in _map(_run_group, [[cases[i] for i in g] for g in order], workers):
        for i, result in zip(order.pop(0), done, strict=True):
            results[i] = result
            if progress:
                progress(result.case_id)
    skipped = tuple(s for s in (*skipped_t, *skipped_i) if s.source in wanted
                    and (ids is None or s.case_id in ids))
    return PublishedComparison(tuple(results[i] for i in range(len(cases))), skipped)


def _run_group(cases: list[TrainCase | InferCase]) -> list[CaseResult]:
    """The cases of one model, in order, sharing its traced workloads.

    The cycle collector is paused meanwhile: a group builds hundreds of thousands of acyclic
    objects (ops, tensors, kernels) that it keeps, and full collections scanning them were a
    third of a cold run. What few cycles it leaves (module trees) are collected afterwards."""
    with _collector_paused():
        return _cases_of_group(cases)


@contextmanager
def _collector_paused():
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _cases_of_group(cases: list[TrainCase | InferCase]) -> list[CaseResult]:
    ws = _Workloads(cases)
    out = []
    for case in cases:
        run = _train if isinstance(case, TrainCase) else _infer
        try:
            value, feasible = run(case, ws)
            note = case.note if feasible else f"out of memory in our model; {case.note}"
        except (ValueError, LookupError) as exc:
            value, feasible, note = None, None, f"cannot run: {exc}"
        out.append(CaseResult(case.case_id, case.source, _configuration(case), case.metric,
                              value, case.published, feasible, note))
    return out


def _map(fn, jobs: list, workers: int | None):
    """`fn` over `jobs` in order: here, or on a pool of fresh ("spawn") processes."""
    import os

    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        yield from map(fn, jobs)
        return
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(fn, jobs)
