"""`archsim sweep`: a design-space grid, priced locally or on Dask, streamed to Parquet."""

from __future__ import annotations

import argparse
import sys

from archsim_cli.args import add_json, add_kernels, whole
from archsim_cli.format import print_json, print_table

_FRONT_ROWS = 12
DEFAULT_MAX_POINTS = 2_000_000      # about 20 s on 2 cores


def register(sub) -> None:
    p = sub.add_parser("sweep", help="sweep a grid of models, shapes, devices, parallel plans, "
                                     "variants and precisions into a Parquet results folder")
    p.add_argument("--grid", required=True, metavar="GRID.yaml",
                   help="the axes (see examples/grid.yaml, and examples/grid-plans.yaml for "
                        "multi-GPU plans)")
    p.add_argument("--out", required=True, metavar="RESULTS.parquet",
                   help="results folder (a Parquet dataset, one file per chunk); run again "
                        "to resume an interrupted sweep")
    p.add_argument("--dask", default=None, metavar="local|tcp://HOST:PORT",
                   help="run the chunks on a Dask LocalCluster or an existing scheduler")
    p.add_argument("--workers", type=whole(), default=None,
                   help="processes (or LocalCluster workers); default: the CPU count")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--max-points", type=whole(), default=DEFAULT_MAX_POINTS, metavar="N",
                   help="refuse a grid of more points than this, saying how long it would "
                        f"take (default {DEFAULT_MAX_POINTS:,})")
    add_kernels(p, default=None, grid=True)
    add_json(p)
    p.set_defaults(run=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from simulator import best_points, load_grid, pareto_front, run_sweep

    grid = load_grid(args.grid)
    if args.kernels is not None:
        grid = grid.with_kernels(args.kernels)
    estimate = grid.estimate()
    if grid.num_points > args.max_points:
        raise ValueError(f"{args.grid}: the grid asks for {estimate}; that is more than "
                         f"--max-points {args.max_points:,} (raise it to run anyway)")
    print(f"sweep: {estimate}", file=sys.stderr, flush=True)
    _say_unmeasured(grid)
    run = run_sweep(grid, args.out, workers=args.workers, dask=args.dask,
                    progress=not args.no_progress)
    best, front = best_points(run.frame), pareto_front(run.frame)
    if args.json:
        print_json({"out": args.out, "points": len(run.frame), "chunks": run.chunks,
                    "computed_chunks": run.computed, "elapsed_s": run.elapsed_s,
                    "points_per_s": run.points_per_s, "kernels": grid.kernels,
                    "unmeasured_devices": list(run.unmeasured),
                    "best": best.to_dict(orient="records"),
                    "pareto": front.to_dict(orient="records")})
        return 0
    print(f"{len(run.frame):,} points in {args.out} ({run.computed} of {run.chunks} chunks "
          f"computed now, {run.elapsed_s:.1f} s); kernels priced by {grid.kernels}")
    print_table("Best point per model and metric",
                ["model", "metric", "value", "phase", "batch", "seq/ctx", "device", "plan",
                 "precision", "variant"],
                [(r.model, r.metric, f"{r.value:.4g}", r.phase, r.batch,
                  r.context or r.seq, r.device, r.plan, r.precision, r.variant)
                 for r in best.itertuples()], right_align_from=2)
    for (model, phase), group in front.groupby(["model", "phase"], sort=False):
        shown = group.head(_FRONT_ROWS)
        more = f" (first {_FRONT_ROWS} of {len(group)})" if len(group) > _FRONT_ROWS else ""
        print_table(f"Pareto front, {model} {phase}: $/1M tokens (all GPUs) against latency"
                    f"{more}",
                    ["latency ms", "$/1M tok", "batch", "seq/ctx", "device", "plan",
                     "precision", "variant"],
                    [(f"{r.time_s * 1e3:.3f}", f"{r.usd_per_1m_tokens:.4f}", r.batch,
                      r.context or r.seq, r.device, r.plan, r.precision, r.variant)
                     for r in shown.itertuples()], right_align_from=0)
    return 0


def _say_unmeasured(grid) -> None:
    """Once, before the work: the devices the measurements do not cover (refuses a records
    folder that holds none of a device's records)."""
    from simulator import unmeasured_devices

    missing = unmeasured_devices(grid)
    if missing:
        print(f"sweep: no measurements of {', '.join(missing)}: the fitted model prices "
              "their points (kernels column 'model')", file=sys.stderr, flush=True)
