"""`archsim import aiconfigurator DIR --out OUT`: public GPU measurements as archsim records."""

from __future__ import annotations

import argparse

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("import", help="import measured kernel tables as archsim measurement "
                                      "records (then `archsim calibrate OUT`)")
    sources = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    a = sources.add_parser("aiconfigurator", help="NVIDIA aiconfigurator's silicon tables "
                                                  "(Apache-2.0): one GPU's folder")
    a.add_argument("folder", metavar="DIR",
                   help="one GPU's folder, holding gemm/, attention/, moe/, comm/")
    a.add_argument("--out", required=True, metavar="OUT", help="folder for the records")
    a.add_argument("--engine", choices=("trtllm", "vllm", "sglang"), default="trtllm",
                   help="whose tables to import (default trtllm); NCCL's come with each")
    a.add_argument("--device", default=None,
                   help="the shipped device the tables were measured on (default: from the "
                        "folder name, e.g. h100_sxm -> h100-sxm)")
    a.add_argument("--sample", type=int, default=None, metavar="N",
                   help="keep N random rows of each table (seed 0)")
    a.add_argument("--commit", default=None,
                   help="the source commit (default: read from a README beside the folder)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json(a)
    a.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from validation.measure.aiconfigurator import import_aiconfigurator

    r = import_aiconfigurator(args.folder, args.out, engine=args.engine, device=args.device,
                              sample=args.sample, commit=args.commit,
                              progress=not (args.no_progress or args.json))
    if args.json:
        print_json({"device": r.device, "engine": r.engine, "csv": str(r.csv_path),
                    "json": str(r.json_path), "rows": r.rows, "skipped": r.skipped,
                    "tables": [f"{t.framework}/{t.version}/{t.name}" for t in r.tables]})
        return 0
    print(f"Imported {sum(r.rows.values()):,} records for {r.device} ({r.engine}) into "
          f"{r.csv_path.parent}; next: archsim calibrate {r.csv_path.parent}")
    print_table("Records by kernel class", ["kernel class", "records"],
                [(k, f"{v:,}") for k, v in sorted(r.rows.items())])
    if r.skipped:
        print_table("Rows archsim cannot price yet (kept out, by reason)",
                    ["table", "rows", "reason"],
                    [(s["table"], f"{s['rows']:,}", s["reason"]) for s in r.skipped],
                    right_align_from=1)
    return 0
