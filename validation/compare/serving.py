"""Serving predictions against measured serving runs: each run simulated as the closed loop its
benchmark was, with its engine's preset, its parallel plan and its precision.

    result = validate_serving(SHIPPED)            # every run of the file
    result.as_dict()                              # summary, by_engine, by_model, rows, skipped

error = predicted / measured - 1 for the mean TTFT and the mean TPOT. Nothing is fitted here:
the engine presets (`simulator.serving.engines`) and the kernel profiles are the only knobs.
A run archsim cannot express is listed with the reason, never dropped; a run whose measured
TTFT exceeds prefilling every request in flight back to back (queueing outside the engine's
scheduler, which a closed loop of that concurrency cannot produce) is kept and flagged.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwspecs.registry import load_system
from simulator.core.measured_pricing import KernelSource
from simulator.core.options import Options
from simulator.parallel.plan import Plan
from simulator.parallel.systems import system_for_gpus
from simulator.serving.closed_loop import ClosedLoop, Pool, simulate_closed_loop
from simulator.serving.engines import replica_setup
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.lengths import LengthDist
from validation.compare.serving_runs import (
    CITATION,
    SHIPPED,
    SYSTEMS,
    Run,
    RunSetup,
    Skip,
    Worker,
    read_runs,
    run_setup,
)
from workloads.catalog_ids import resolve

ROUNDS = 10          # requests per run: ROUNDS x concurrency (the first round is the warm-up)


@dataclass(frozen=True)
class RowResult:
    setup: RunSetup
    ttft_s: float
    tpot_s: float
    outlier: bool               # measured TTFT beyond prefilling all in flight back to back
    preemptions: int

    @property
    def run(self) -> Run:
        return self.setup.run

    @property
    def ttft_error(self) -> float:
        return self.ttft_s / self.run.ttft_s - 1

    @property
    def tpot_error(self) -> float:
        return self.tpot_s / self.run.tpot_s - 1

    def as_dict(self) -> dict:
        s, r = self.setup, self.run
        return {"id": r.id, "model": s.model, "engine": s.engine, "version": r.version,
                "mode": r.mode, "precision": r.precision, "priced_as": s.precision.label,
                "tp": s.decode.tp, "ep": s.decode.ep,
                "attn_dp": s.decode.attn_dp,
                "gpus": s.gpus, "concurrency": s.concurrency, "isl": int(r.num("isl")),
                "osl": int(r.num("osl")), "measured_ttft_s": r.ttft_s,
                "predicted_ttft_s": self.ttft_s, "ttft_error": self.ttft_error,
                "measured_tpot_s": r.tpot_s, "predicted_tpot_s": self.tpot_s,
                "tpot_error": self.tpot_error, "queueing_outlier": self.outlier,
                "preemptions": self.preemptions}


@dataclass
class ServingValidation:
    source: str
    rows: list[RowResult] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"source": self.source, "citation": CITATION,
                "summary": errors_of(self.rows),
                "by_engine": _grouped(self.rows, lambda r: r.setup.engine),
                "by_model": _grouped(self.rows, lambda r: r.setup.model),
                "by_mode": _grouped(self.rows, lambda r: r.run.mode),
                "rows": [r.as_dict() for r in self.rows],
                "skipped": [{"id": s.id, "reason": s.reason} for s in self.skipped]}


def errors_of(rows: Iterable[RowResult]) -> dict:
    rows = list(rows)
    out = {}
    for metric in ("ttft", "tpot"):
        e = np.abs([getattr(r, f"{metric}_error") for r in rows])
        out[metric] = {"rows": len(rows),
                       "median_abs_error": float(np.median(e)) if len(e) else None,
                       "p90_abs_error": float(np.percentile(e, 90)) if len(e) else None}
    out["queueing_outliers"] = sum(r.outlier for r in rows)
    return out


def _grouped(rows: list[RowResult], key: Callable[[RowResult], str]) -> dict:
    groups: dict[str, list[RowResult]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return {k: errors_of(v) for k, v in sorted(groups.items())}


def validate_serving(path: str | Path = SHIPPED, mode: str | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     rounds: int = ROUNDS, workers: int | None = None,
                     kernels: KernelSource = KernelSource.MODEL) -> ServingValidation:
    """Simulate every run of `path` (only `mode`'s, agg or disagg, when given), the runs of
    one model on one of `workers` processes (default: one per CPU, at most WORKERS), its
    kernels priced by the fitted model or (`kernels`) from the measured tables."""
    runs = [r for r in read_runs(path) if mode is None or r.mode == mode]
    result = ServingValidation(source=str(path))
    setups = _setups(runs, result.skipped)
    groups: dict[str, list[RunSetup]] = {}
    for s in setups:
        groups.setdefault(s.model, []).append(s)
    workers = min(workers or os.cpu_count() or 1, WORKERS, len(groups))
    done = 0
    for outcomes in _map_groups(list(groups.values()), rounds, workers, kernels):
        for outcome in outcomes:
            (result.skipped if isinstance(outcome, Skip) else result.rows).append(outcome)
        done += len(outcomes)
        if progress:
            progress(done, len(setups))
    result.rows.sort(key=lambda r: r.run.line)           # the file's order
    line = {r.id: r.line for r in runs}
    result.skipped.sort(key=lambda s: line.get(s.id, 0))
    return result


WORKERS = 2


def _map_groups(groups: list[list[RunSetup]], rounds: int, workers: int,
                kernels: KernelSource = KernelSource.MODEL):
    """Each group's outcomes (rows or skips), as the groups finish: in this process, or on a
    pool of `workers` (the costliest groups first, each worker keeping its own cost cache)."""
    if workers <= 1:
        cache = _Costs(kernels)
        for g in groups:
            yield _group_outcomes(g, cache, rounds)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    groups = sorted(groups, key=_weight, reverse=True)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_run_group, g, rounds, kernels) for g in groups]
        for f in as_completed(futures):
            yield f.result()


def _weight(group: list[RunSetup]) -> float:
    return sum(s.concurrency * (s.run.num("osl") + s.run.num("isl") / 8) for s in group)


_WORKER_CACHE: _Costs | None = None


def _run_group(group: list[RunSetup], rounds: int,
               kernels: KernelSource = KernelSource.MODEL) -> list[RowResult | Skip]:
    global _WORKER_CACHE
    if _WORKER_CACHE is None or _WORKER_CACHE.kernels is not kernels:
        _WORKER_CACHE = _Costs(kernels)
    return _group_outcomes(group, _WORKER_CACHE, rounds)


def _group_outcomes(group: list[RunSetup], cache: _Costs, rounds: int
                    ) -> list[RowResult | Skip]:
    """One model's runs; its costs are priced out to the longest context any of them needs."""
    cache.max_context = max(int(s.run.num("isl") + s.run.num("osl")) for s in group)
    return [_outcome(s, cache, rounds) for s in group]


def _outcome(setup: RunSetup, cache: _Costs, rounds: int) -> RowResult | Skip:
    try:
        return _simulate(setup, cache, rounds)
    except ValueError as exc:         # a plan, a precision or a memory the GPU refuses
        return Skip(setup.run.id, str(exc))


def _setups(runs: list[Run], skipped: list[Skip]) -> list[RunSetup]:
    out, peaks = [], {}
    for run in runs:
        system = _system_name(run)
        if system not in peaks:
            peaks[system] = _matrix_dtypes(system)
        s = run_setup(run, _model_of(run.hf_id), peaks[system])
        (skipped if isinstance(s, Skip) else out).append(s)
    # Runs of one model, plan, precision and engine next to each other: they share a cost.
    out.sort(key=lambda s: (s.model, s.engine, str(s.precision), s.decode.tp, s.decode.ep,
                            s.decode.attn_dp))
    return out


def _model_of(hf_id: str) -> str | None:
    """The catalog model a run's Hugging Face id names, or a config.json path given instead."""
    if not hf_id:
        return None
    return resolve(hf_id) or (hf_id if Path(hf_id).expanduser().exists() else None)


def _system_name(run: Run) -> str | None:
    return SYSTEMS.get(run.system)


def _matrix_dtypes(system: str | None) -> frozenset:
    if system is None:
        return frozenset()
    return frozenset(load_system(system).device.matrix_peak_flops_per_s)


class _Costs:
    """Iteration costs shared by the runs of one replica setup and prompt-length bucket, and
    each model's tensor-parallel plan (read once)."""

    def __init__(self, kernels: KernelSource = KernelSource.MODEL):
        self.kernels = kernels
        self.costs: dict[tuple, IterationCost] = {}
        self.tp_plans: dict[str, object] = {}
        self.max_context = 1

    def tp_plan(self, model: str):
        if model not in self.tp_plans:
            from workloads.config import tp_plan_of

            self.tp_plans[model] = tp_plan_of(model)
        return self.tp_plans[model]

    def pool(self, setup: RunSetup, worker: Worker, prompt: int, max_ctx: int) -> Pool:
        options = Options(precision=setup.precision, engine=setup.engine,
                          tp_plan=self.tp_plan(setup.model), kernels=self.kernels)
        system = system_for_gpus(setup.system, worker.gpus)
        plan = Plan(tp=worker.tp, ep=worker.ep, attn_dp=worker.attn_dp)
        spec, config, _ = replica_setup(setup.model, system, plan, options, kv_auto=False)
        key = (setup.model, setup.system, worker.tp, worker.ep, worker.attn_dp,
               setup.precision, setup.engine, (prompt - 1).bit_length())   # power-of-2 bucket
        cost = self.costs.get(key)
        if cost is None or cost.max_context < max_ctx:
            cost = IterationCost(spec, max_context=max(max_ctx, self.max_context),
                                 prompt_tokens=prompt)
            self.costs[key] = cost
        return Pool(spec, worker.replicas, config, cost)


def _simulate(setup: RunSetup, cache: _Costs, rounds: int) -> RowResult:
    run = setup.run
    isl, osl = int(run.num("isl")), int(run.num("osl"))
    decode = cache.pool(setup, setup.decode, isl, isl + osl)
    prefill = cache.pool(setup, setup.prefill, isl, isl + osl) if setup.prefill else None
    loop = ClosedLoop(setup.concurrency, LengthDist("fixed", isl), LengthDist("fixed", osl),
                      requests=rounds * setup.concurrency)
    m = simulate_closed_loop(loop, decode, prefill).metrics()
    front = prefill or decode
    # Prefilling every request in flight back to back, on every replica of the prefill pool.
    bound = setup.concurrency * front.cost.prefill_s(isl) / front.replicas
    return RowResult(setup, ttft_s=m["ttft_mean_s"], tpot_s=m["tpot_mean_s"],
                     outlier=bool(run.ttft_s > bound and math.isfinite(bound)),
                     preemptions=int(m["preemptions"]))
