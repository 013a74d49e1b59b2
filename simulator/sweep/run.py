"""Design-space sweeps: a grid of models x shapes x devices x plans x variants x precisions.

Each chunk (one workload shape) is traced once and priced on all its devices, parallel plans,
variants and precisions by broadcasting (`sweep_eval`, `sweep_plans`). Chunks run in this process, on a local process
pool, or on Dask (`sweep_dask`); each finished chunk is written to the results folder at once
(`sweep_store`), so a sweep that stops resumes where it stopped.

    grid = load_grid("grid.yaml")
    run = run_sweep(grid, "results.parquet", workers=2)
    run.frame, best_points(run.frame), pareto_front(run.frame)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from simulator.sweep.chunk import evaluate_chunk
from simulator.sweep.grid import ChunkKey, Grid, load_grid
from simulator.sweep.kernels import unmeasured_devices
from simulator.sweep.store import ResultStore, load_results
from simulator.sweep.summary import best_points, pareto_front

__all__ = ["SweepRun", "best_points", "load_grid", "load_results", "pareto_front",
           "run_sweep", "unmeasured_devices"]


@dataclass(frozen=True)
class SweepRun:
    frame: object          # pandas.DataFrame of every point, in chunk order
    chunks: int            # chunks in the grid
    computed: int          # chunks computed by this run (the others were on disk already)
    points: int
    elapsed_s: float
    # with `kernels: measured`, the devices nothing measured (the model priced their points)
    unmeasured: tuple[str, ...] = ()

    @property
    def points_per_s(self) -> float:
        return self.points / self.elapsed_s if self.elapsed_s > 0 else float("inf")


def run_sweep(grid: Grid, out: str | Path, workers: int | None = None,
              dask: str | None = None, progress: bool = True,
              dask_processes: bool = True) -> SweepRun:
    """Run (or finish) the sweep of `grid` into the results folder `out`.

    workers: processes (or Dask workers for `dask="local"`); default: the CPU count; 1 runs
    the chunks in this process. dask: None, "local", or a scheduler address.
    """
    import time

    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    from hwspecs import load_device

    for ref in grid.devices:
        load_device(ref)  # an unknown device fails here, before any work
    unmeasured = tuple(unmeasured_devices(grid))   # and a bad records folder
    store = ResultStore(out, grid.fingerprint())
    keys = grid.chunks()
    todo = [k for k in keys if k.index not in store.done()]
    start = time.perf_counter()
    with _progress(grid, len(keys) - len(todo), progress) as bar:
        def finished(frame) -> None:
            if frame is not None:    # None: a pool worker wrote the chunk itself
                store.write(int(frame["chunk"].iat[0]), frame)
            bar.update(grid.points_per_chunk)

        if todo:
            _run(grid, todo, finished, workers, dask, dask_processes, store)
    elapsed = time.perf_counter() - start
    return SweepRun(frame=store.load(), chunks=len(keys), computed=len(todo),
                    points=len(todo) * grid.points_per_chunk, elapsed_s=elapsed,
                    unmeasured=unmeasured)


def _run(grid: Grid, todo: list[ChunkKey], finished: Callable, workers: int | None,
         dask: str | None, dask_processes: bool, store: ResultStore) -> None:
    if dask is not None:
        from simulator.sweep.on_dask import run_on_dask

        run_on_dask(dask, evaluate_chunk, [(grid, k) for k in todo], finished, workers=workers,
                    processes=dask_processes)
        return
    workers = min(workers or os.cpu_count() or 1, len(todo))
    if workers == 1:
        for key in todo:
            finished(evaluate_chunk(grid, key))
        return
    # NB: "spawn" starts clean workers (no forked torch threads); each imports the tracer once.
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
    try:
        futures = [pool.submit(_evaluate_and_store, grid, key, store) for key in todo]
        for future in as_completed(futures):
            finished(future.result())
    except BaseException:
        # Stopped (Ctrl-C, a failed chunk): drop the queued chunks; finished ones are on disk.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _evaluate_and_store(grid: Grid, key: ChunkKey, store: ResultStore) -> None:
    """A pool worker writes its own chunk (same disk): the parquet encoding runs in parallel.

    NB: Dask workers return their frames instead, as a cluster need not share a disk."""
    store.write(key.index, evaluate_chunk(grid, key))


def _progress(grid: Grid, done_chunks: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=grid.num_points, initial=done_chunks * grid.points_per_chunk,
                unit="pt", unit_scale=True, desc="sweep", disable=not enabled)
