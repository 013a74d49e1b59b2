"""`archsim bench`: time the simulator's kernel classes on this machine with torch."""

from __future__ import annotations

import argparse
import sys

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("bench", help="time GEMMs, attention, norms, elementwise kernels, "
                       "gathers and copies on this device; write the records (and a spec)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="device to measure (default: cuda when torch sees one, else cpu)")
    p.add_argument("--quick", action="store_true",
                   help="a small grid that finishes in seconds (for tests and a first look)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="folder for <device>/kernels-<grid>.csv/.json (default: "
                        "validation/data)")
    p.add_argument("--emit-spec", action="store_true",
                   help="also write a hwspecs device YAML of the measured peaks beside the data")
    p.add_argument("--from", dest="from_path", metavar="CSV", default=None,
                   help="with --emit-spec: use this measurement file instead of measuring")
    p.add_argument("--tdp-w", type=float, default=None,
                   help="the device's TDP in watts, where it cannot be read (CPUs in a VM)")
    p.add_argument("--tdp-source", default=None, help="where the --tdp-w figure comes from")
    p.add_argument("--budget-s", type=float, default=None,
                   help="stop starting new cases after this many seconds (records say so)")
    p.add_argument("--replay", metavar="MODEL", default=None,
                   help="instead of the grid: time every kernel of one traced step of MODEL "
                        "(catalog name or config.json) and the whole step")
    p.add_argument("--phase", choices=("prefill", "decode", "train"), default="prefill",
                   help="with --replay: the step to trace and time (default prefill)")
    p.add_argument("--batch", type=int, default=1, help="with --replay: sequences (default 1)")
    p.add_argument("--seq", type=int, default=None,
                   help="with --replay: tokens per sequence (default 128; 1 for decode)")
    p.add_argument("--context", type=int, default=0,
                   help="with --replay --phase decode: KV-cache length")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), default=None,
                   help="with --replay: precision (default fp32 on CPU, bf16 on CUDA and MoE)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from validation.measure.bench import bench_to_folder, emit_spec_from, replay_to_folder
    from validation.measure.host_load import busy_warning

    if args.replay is not None:
        if args.emit_spec or args.from_path:
            raise ValueError("--replay times a model; emit a spec from grid measurements "
                             "(archsim bench --emit-spec)")
        outcome = replay_to_folder(args.replay, args.phase, args.batch, args.seq, args.context,
                                   args.device, args.dtype, args.quick, args.out,
                                   progress=not args.no_progress)
        return _print_replay(outcome, args.json)
    if args.from_path is not None:
        if not args.emit_spec:
            raise ValueError("--from needs --emit-spec: it names the measurements to emit a "
                             "spec from")
        path = emit_spec_from(args.from_path, args.out, args.tdp_w, args.tdp_source)
        if args.json:
            print_json({"spec_path": str(path)})
        else:
            print(f"spec written: {path}")
        return 0
    outcome = bench_to_folder(args.device, args.quick, args.out, args.emit_spec, args.tdp_w,
                              args.tdp_source, args.budget_s, progress=not args.no_progress)
    warning = busy_warning(outcome.meta)
    if warning:
        print(f"archsim: warning: {warning}", file=sys.stderr)
    paths = {"csv_path": str(outcome.csv_path), "json_path": str(outcome.json_path),
             "spec_path": None if outcome.spec_path is None else str(outcome.spec_path)}
    meta = outcome.meta
    if args.json:
        print_json({**paths, "device": meta["device"], "elapsed_s": meta["elapsed_s"],
                    "complete": meta["complete"], "skipped": meta["skipped"],
                    "median_noise_riqr": meta["median_noise_riqr"],
                    "kernels": outcome.summary})
        return 0
    rows = [(s["kernel"], s["cases"], f"{s['best_flops_per_s'] / 1e9:,.1f}",
             f"{s['best_bytes_per_s'] / 1e9:,.1f}", f"{s['fastest_s'] * 1e6:,.1f}",
             f"{s['median_noise_riqr']:.1%}") for s in outcome.summary]
    print_table(f"archsim bench on {meta['device']['name']} ({meta['grid']} grid, "
                f"{meta['elapsed_s']:.0f} s)",
                ["kernel", "cases", "best GFLOP/s", "best GB/s", "fastest us", "noise (IQR)"],
                rows)
    for key, path in paths.items():
        if path:
            print(f"{key.removesuffix('_path')}: {path}")
    if meta["skipped"]:
        print(f"{len(meta['skipped'])} case(s) skipped: "
              f"{', '.join(sorted({s['reason'] for s in meta['skipped']}))}")
    return 0


def _print_replay(outcome, as_json: bool) -> int:
    meta, replay = outcome.meta, outcome.meta["replay"]
    step = replay["step"]
    if as_json:
        print_json({"csv_path": str(outcome.csv_path), "json_path": str(outcome.json_path),
                    **{k: replay[k] for k in ("model", "phase", "batch", "seq", "context",
                                              "dtype", "kernels", "replayed_kernels",
                                              "unreplayed", "replayed_sum_s")},
                    "step_median_s": step["median_s"], "step_noise_riqr": step["noise_riqr"],
                    "kernel_classes": outcome.summary})
        return 0
    print(f"{replay['model_name']} {replay['phase']} (batch {replay['batch']}, seq "
          f"{replay['seq']}, context {replay['context']}, {replay['dtype']}) on "
          f"{meta['device']['name']}: {replay['replayed_kernels']} of {replay['kernels']} "
          "kernels replayed")
    print(f"sum of replayed kernels: {replay['replayed_sum_s'] * 1e3:,.3f} ms; whole step: "
          f"{step['median_s'] * 1e3:,.3f} ms (noise {step['noise_riqr']:.1%})")
    left = sorted(replay["unreplayed"].items(), key=lambda kv: -kv[1])
    if left:
        print_table("Kernels not replayed", ["kind: reason", "kernels"], left)
    print(f"csv: {outcome.csv_path}\njson: {outcome.json_path}")
    return 0
