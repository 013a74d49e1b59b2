"""`archsim validate`: predictions vs measured kernels and vs published results."""

from __future__ import annotations

import argparse

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("validate", help="report prediction error against measurements and "
                       "published results")
    p.add_argument("--measured", nargs="*", default=None, metavar="DIR",
                   help="measurement folders (default: every set under validation/data)")
    p.add_argument("--published", action="store_true",
                   help="compare against the published results in validation/published")
    p.add_argument("--serving", nargs="?", const="shipped", default=None, metavar="CSV",
                   help="simulate measured serving runs (aiconfigurator silicon_sample "
                        "format; default: the shipped H100 runs) and report predicted vs "
                        "measured TTFT and TPOT")
    p.add_argument("--transfer", action="store_true",
                   help="move each measured device's fitted profile to every other device "
                        "measured under the same engine (the transfer rule) and report its "
                        "error beside that device's own profile")
    p.add_argument("--save", action="store_true",
                   help="with --transfer: keep the measured per-class transfer error as the "
                        "widening the transfer rule applies (hwspecs/calibration/"
                        "transfer.yaml); with --published: keep the error per plan family "
                        "the plan searches show (hwspecs/calibration/plan_families.yaml)")
    p.add_argument("--engine", default=None, choices=("trtllm", "vllm", "sglang", "torch"),
                   help="whose profile prices the measurements (default: the engine the "
                        "records ran under)")
    p.add_argument("--profile", default=None, metavar="PATH",
                   help="price with this profile YAML instead")
    p.add_argument("--kernels", choices=("model", "measured"), default="model",
                   help="with --serving: price kernels with the fitted model, or from the "
                        "committed measured tables of each run's GPU and engine where they "
                        "cover a kernel")
    p.add_argument("--report", default=None, metavar="DIR",
                   help="write a Markdown report with plots per measured device here")
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    out: dict = {}
    if args.serving is not None and not (args.measured is not None or args.published
                                         or args.transfer):
        serving = _serving(args)
        if args.json:
            print_json(serving)
        return 0
    if args.measured is not None or not (args.published or args.transfer):
        out["devices"] = _measured(args)
    if args.transfer:
        out["transfer"] = _transfer(args)
    if args.published:
        out["published"] = _published(args)
    if args.json:
        print_json(out)
    return 0


def _measured(args) -> list[dict]:
    from pathlib import Path

    from tqdm import tqdm

    from simulator import load_profile, profile_for
    from validation.compare.kernels import (
        class_errors,
        fitted_on_this_data,
        kernel_comparison,
        model_comparison,
        scored_errors,
        write_report,
    )
    from validation.measure.measured_sets import load_set, shipped_sets

    folders = args.measured or shipped_sets()
    if not folders:
        raise ValueError("no measurements found; run `archsim bench` first or name a folder "
                         "with --measured")
    results = []
    for folder in tqdm(folders, desc="validate", unit="set", disable=args.json or
                       len(folders) < 2):
        s = load_set(folder)
        meta = s.measurements.meta
        profile = load_profile(args.profile) if args.profile else \
            profile_for(s.device, args.engine or _engine_of(meta))
        comparison = kernel_comparison(s.measurements.frame, s.device, profile)
        fitted_here = fitted_on_this_data(profile, meta)
        table = scored_errors(comparison, fitted_here)
        models = model_comparison(s.measurements.csv_path.parent, s.device, profile)
        report = None
        if args.report:
            report = str(write_report(comparison, s.device, profile,
                                      Path(args.report) / _slug(folder), fitted_here))
        results.append({"device": s.device.name, "profile": profile.name,
                        "profile_origin": profile.origin, "data": str(folder),
                        "engine": meta.get("engine"), "fitted_on_this_data": fitted_here,
                        "classes": class_errors(table),
                        "model_steps": models.to_dict(orient="records"), "report": report})
        if not args.json:
            scope = "held-out kernels" if fitted_here else "every kernel (profile not " \
                "fitted on this data)"
            print_table(f"{s.device.name} ({folder}): {scope}; profile {profile.origin}",
                        ["kernel", "dtype", "cases", "median |err| %", "p90 |err| %"],
                        [(r.kernel, r.dtype, r.cases, f"{r.median_ape_pct:.1f}",
                          f"{r.p90_ape_pct:.1f}") for r in table.itertuples()],
                        right_align_from=2)
            if len(models):
                print_table(f"{s.device.name}: whole model steps (un-instrumented)",
                            ["model", "phase", "batch", "seq", "context", "measured",
                             "predicted", "error %", "noise %"],
                            [(r.model, r.phase, r.batch, r.seq, r.context,
                              f"{r.measured_s * 1e3:.2f} ms", f"{r.predicted_s * 1e3:.2f} ms",
                              f"{r.error_pct:+.1f}", f"{r.noise_pct:.1f}")
                             for r in models.itertuples()])
            if report:
                print(f"report: {report}")
    return results


def _engine_of(meta: dict) -> str | None:
    """The engine imported records ran under (bench records: none, the device's own)."""
    engine = meta.get("engine")
    return engine if engine in ("trtllm", "vllm", "sglang") else None


def _slug(folder) -> str:
    from pathlib import Path

    return Path(folder).resolve().name


def _transfer(args) -> list[dict]:
    from validation.compare.transfer import save_widening, transfer_table
    from validation.measure.measured_sets import load_set, shipped_sets

    table = transfer_table([load_set(f) for f in (args.measured or shipped_sets())])
    if not args.json:
        for (source, target, engine), rows in table.groupby(
                ["fitted_on", "applied_to", "engine"], sort=False):
            print_table(f"Profile fitted on {_short(source)} moved to {_short(target)} by the "
                        f"transfer rule{f' ({engine})' if engine else ''}: every record of "
                        "the latter; its own profile on its held-out quarter",
                        ["kernel", "dtype", "cases", "median |err| %", "p90 |err| %",
                         "own profile median %", "own p90 %"],
                        [(r.kernel, r.dtype, r.cases, f"{r.median_ape_pct:.1f}",
                          f"{r.p90_ape_pct:.1f}", _pct(r.median_ape_pct_own / 100),
                          _pct(r.p90_ape_pct_own / 100)) for r in rows.itertuples()],
                        right_align_from=2)
    if args.save:
        path = save_widening(table)
        if not args.json:
            print(f"transfer widening written: {path}")
    return table.to_dict(orient="records")


def _short(device: str) -> str:
    return device.removesuffix("-measured")


_METRIC = {"tflops_per_gpu": "TFLOP/s per GPU", "tokens_per_s_per_gpu": "tokens/s per GPU",
           "tokens_per_s": "tokens/s of one request"}


def _published(args) -> dict:
    """Each source as its own table of five columns (they fit a 100-column terminal); the
    configuration and notes of every case are in --json."""
    import sys

    from tqdm import tqdm

    from validation.compare.published import compare_published
    from validation.compare.published_families import family_table, save_family_table

    with tqdm(desc="published cases", unit="case", file=sys.stderr,
              disable=args.json or not sys.stderr.isatty()) as bar:
        result = compare_published(progress=lambda _case: bar.update())
    if not args.json:
        for source in dict.fromkeys(r.source for r in result.results):
            rows = [r for r in result.results if r.source == source]
            metrics = ", ".join(dict.fromkeys(_METRIC.get(r.metric, r.metric) for r in rows))
            print_table(f"{source}: {metrics}, predicted vs published",
                        ["case", "predicted", "published", "error %", "fits"],
                        [(r.case_id, _fmt(r.predicted) if r.predicted is not None else "-",
                          _fmt(r.published), _pct(r.error),
                          {True: "yes", False: "OOM", None: "-"}[r.feasible]) for r in rows])
        print_table("Per source (the worst case of each is in its table above)",
                    ["source", "cases", "median |err| %", "worst err %"],
                    [(s.source, s.cases, _pct(s.median_abs_error), _pct(s.worst_error))
                     for s in result.summary()])
    families = family_table(result)
    if not args.json:
        print_table("Per plan family (median |err|: the worst of its sources')",
                    ["family", "cases", "median |err| %", "median err %", "sources"],
                    [(name, f["cases"], _pct(f["median_abs_error"]), _pct(f["median_error"]),
                      ", ".join(f["sources"])) for name, f in families.items()])
    if args.save:
        path = save_family_table(result)
        if not args.json:
            print(f"plan family errors written: {path}")
    return {**result.as_dict(), "families": families}


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pct(v) -> str:
    import math

    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.1f}"


def _serving(args) -> dict:
    """Measured serving runs against their simulation: rows, errors per engine and model."""
    from tqdm import tqdm

    from simulator import KernelSource
    from validation.compare.serving import validate_serving
    from validation.compare.serving_runs import SHIPPED

    path = SHIPPED if args.serving == "shipped" else args.serving
    with tqdm(desc="serving runs", unit="run", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = validate_serving(path, progress=progress,
                                  kernels=KernelSource(args.kernels)).as_dict()
    if not args.json:
        print_table(f"Serving runs of {path}: predicted vs measured (mean TTFT and TPOT; "
                    "! queueing beyond what the concurrency explains)",
                    ["run", "model", "engine", "TP", "conc", "isl/osl", "TTFT meas ms",
                     "pred ms", "err %", "TPOT meas ms", "pred ms", "err %", "!"],
                    [(r["id"][-28:], r["model"], r["engine"], r["tp"], r["concurrency"],
                      f"{r['isl']}/{r['osl']}", f"{r['measured_ttft_s'] * 1e3:,.1f}",
                      f"{r['predicted_ttft_s'] * 1e3:,.1f}", f"{r['ttft_error'] * 100:+.0f}",
                      f"{r['measured_tpot_s'] * 1e3:,.2f}",
                      f"{r['predicted_tpot_s'] * 1e3:,.2f}", f"{r['tpot_error'] * 100:+.0f}",
                      "!" if r["queueing_outlier"] else "") for r in result["rows"]],
                    right_align_from=3)
        for title, groups in (("all runs", {"all": result["summary"]}),
                              ("per engine", result["by_engine"]),
                              ("per model", result["by_model"])):
            print_table(f"Serving error, {title} (|predicted / measured - 1|)",
                        ["", "runs", "TTFT median %", "TTFT p90 %", "TPOT median %",
                         "TPOT p90 %", "queueing outliers"],
                        [(name, g["ttft"]["rows"], _pct(g["ttft"]["median_abs_error"]),
                          _pct(g["ttft"]["p90_abs_error"]),
                          _pct(g["tpot"]["median_abs_error"]),
                          _pct(g["tpot"]["p90_abs_error"]), g["queueing_outliers"])
                         for name, g in groups.items()])
        if result["skipped"]:
            print_table(f"Skipped runs ({len(result['skipped'])})", ["run", "why"],
                        [(s["id"], s["reason"]) for s in result["skipped"]])
        print(f"Source: {result['citation']}")
    return result
