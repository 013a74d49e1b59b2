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
    from validation.fit.calibrate import calibrate_set

    result = calibrate_set(args.measured, spec=args.spec, engine=args.engine, out=args.out,
                           progress=not args.json)
    path, table, fit = result.path, result.errors, result.fit
    if args.json:
        print_json({"profile_path": str(path), "device": result.device,
                    "held_out_errors": table.to_dict(orient="records")})
        return 0
    print_table(f"Held-out error on {result.device} ({int(fit.holdout.sum())} kernels not used "
                "in the fit)", ["kernel", "dtype", "cases", "median |err| %", "p90 |err| %",
                                "noise %"],
                [(r.kernel, r.dtype, r.cases, f"{r.median_ape_pct:.1f}", f"{r.p90_ape_pct:.1f}",
                  f"{r.median_noise_pct:.1f}") for r in table.itertuples()],
                right_align_from=2)
    print(f"profile written: {path}")
    return 0
