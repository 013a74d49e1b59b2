"""`archsim calibrate`: fit the efficiency profile to measured kernels and save it."""

from __future__ import annotations

import argparse

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="fit the efficiency model to `archsim bench` "
                       "measurements; save hwspecs/calibration/<device>.<engine>.yaml")
    p.add_argument("measured", help="measurement folder or file (validation/data/<device>)")
    p.add_argument("--spec", default=None,
                   help="device name or YAML (default: the spec beside the measurements)")
    p.add_argument("--engine", default=None,
                   help="the software stack the kernels ran under (default: the records' "
                        "engine; `archsim bench` measures eager PyTorch, 'torch')")
    p.add_argument("--out", default=None,
                   help="profile path (default hwspecs/calibration/<device>.<engine>.yaml)")
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from simulator import CALIBRATION_DIR, default_profile
    from validation.fit.calibrate import error_table, fit_profile, save_profile
    from validation.measure.measured_sets import load_set

    s = load_set(args.measured, args.spec)
    frame, meta = s.measurements.frame, s.measurements.meta
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    engine = args.engine or meta.get("engine", "torch")
    source = meta.get("source", {}).get("citation") if isinstance(meta.get("source"), dict) \
        else None
    fit = fit_profile(frame, s.device, default_profile(s.device),
                      name=f"{s.device.name} {engine} fitted {date}",
                      source=f"archsim calibrate on {s.measurements.csv_path} "
                             f"(measured {meta.get('date', '?')}"
                             + (f"; {source})" if source else ")"),
                      progress=not args.json)
    from dataclasses import replace

    fit = replace(fit, profile=replace(fit.profile, fitted_on=s.device.name, engine=engine,
                                       provenance=f"fitted on {s.device.name} {engine} "
                                                  "measurements"))
    path = save_profile(fit.profile,
                        args.out or CALIBRATION_DIR / f"{s.device.name}.{engine}.yaml")
    table = error_table(frame, fit.predicted_s, fit.holdout)
    if args.json:
        print_json({"profile_path": str(path), "device": s.device.name,
                    "held_out_errors": table.to_dict(orient="records")})
        return 0
    print_table(f"Held-out error on {s.device.name} ({int(fit.holdout.sum())} kernels not used "
                "in the fit)", ["kernel", "dtype", "cases", "median |err| %", "p90 |err| %",
                                "noise %"],
                [(r.kernel, r.dtype, r.cases, f"{r.median_ape_pct:.1f}", f"{r.p90_ape_pct:.1f}",
                  f"{r.median_noise_pct:.1f}") for r in table.itertuples()],
                right_align_from=2)
    print(f"profile written: {path}")
    return 0
