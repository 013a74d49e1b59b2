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
                   help="apply each measured device's fitted profile to every other one and "
                        "report the held-out error beside the device's own profile")
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
        out["measured"] = _measured(args)
    if args.transfer:
        out["transfer"] = _transfer(args)
    if args.published:
        out["published"] = _published(args)
    if args.json:
        print_json(out)
    return 0


def _measured(args) -> list[dict]:
    from pathlib import Path

    from simulator import profile_for
    from validation.compare.kernels import (
        held_out_errors,
        kernel_comparison,
        model_comparison,
        write_report,
    )
    from validation.measure.measured_sets import load_set, shipped_sets

    folders = args.measured or shipped_sets()
    if not folders:
        raise ValueError("no measurements found; run `archsim bench` first or name a folder "
                         "with --measured")
    results = []
    for folder in folders:
        s = load_set(folder)
        profile = profile_for(s.device)
        comparison = kernel_comparison(s.measurements.frame, s.device, profile)
        table = held_out_errors(comparison)
        models = model_comparison(s.measurements.csv_path.parent, s.device, profile)
        report = None
        if args.report:
            report = str(write_report(comparison, s.device, profile,
                                      Path(args.report) / s.device.name))
        results.append({"device": s.device.name, "profile": profile.name,
                        "held_out_errors": table.to_dict(orient="records"),
                        "model_steps": models.to_dict(orient="records"), "report": report})
        if not args.json:
            print_table(f"{s.device.name}: held-out kernels, profile {profile.name}",
                        ["kernel", "cases", "median |err| %", "p90 |err| %", "noise %"],
                        [(r.kernel, r.cases, f"{r.median_ape_pct:.1f}",
                          f"{r.p90_ape_pct:.1f}", f"{r.median_noise_pct:.1f}")
                         for r in table.itertuples()])
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


def _transfer(args) -> list[dict]:
    from validation.compare.transfer import transfer_table
    from validation.measure.measured_sets import load_set, shipped_sets

    table = transfer_table([load_set(f) for f in (args.measured or shipped_sets())])
    if not args.json:
        for (source, target), rows in table.groupby(["fitted_on", "applied_to"], sort=False):
            print_table(f"Profile fitted on {_short(source)} applied to {_short(target)} "
                        "(held-out kernels of the latter)",
                        ["kernel", "cases", "median |err| %", "p90 |err| %",
                         "own profile median %", "own p90 %"],
                        [(r.kernel, r.cases, f"{r.median_ape_pct:.1f}", f"{r.p90_ape_pct:.1f}",
                          f"{r.median_ape_pct_own:.1f}", f"{r.p90_ape_pct_own:.1f}")
                         for r in rows.itertuples()])
    return table.to_dict(orient="records")


def _short(device: str) -> str:
    return device.removesuffix("-measured")


def _published(args) -> dict:
    from validation.compare.published import compare_published

    result = compare_published()
    if not args.json:
        frame = result.to_frame()
        print_table("Published cases: predicted vs published", list(frame.columns),
                    [tuple(_fmt(v) for v in row) for row in frame.itertuples(index=False)])
        print_table("Per source", ["source", "cases", "median |err| %", "worst err %",
                                   "worst case"],
                    [(s.source, s.cases, _pct(s.median_abs_error), _pct(s.worst_error),
                      s.worst_case) for s in result.summary()])
    return result.as_dict()


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.1f}"

def _serving(args) -> dict:
    """Measured serving runs against their simulation: rows, errors per engine and model."""
    from tqdm import tqdm

    from validation.compare.serving import validate_serving
    from validation.compare.serving_runs import SHIPPED

    path = SHIPPED if args.serving == "shipped" else args.serving
    with tqdm(desc="serving runs", unit="run", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = validate_serving(path, progress=progress).as_dict()
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
