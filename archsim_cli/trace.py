"""`archsim trace`: trace a model step, lower it to kernels, and show its work."""

from __future__ import annotations

import argparse

from archsim_cli.args import add_json, whole
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    from workloads.lower.fuse import PASSES

    passes = "; ".join(f"{p.name}: {p.description}" for p in PASSES)
    p = sub.add_parser("trace", help="trace a model step into kernels: FLOPs, bytes, op counts",
                       description="Trace a model step and lower it to the kernels a GPU "
                                   f"stack runs. Lowering passes: {passes}.")
    p.add_argument("--model", required=True,
                   help="catalog name (see `archsim models`), config.json path or Hub id")
    p.add_argument("--phase", choices=["train", "prefill", "decode"], default="prefill")
    p.add_argument("--batch", type=whole(), default=1, help="sequences per step")
    p.add_argument("--seq", type=whole(), default=2048,
                   help="tokens per sequence (train, prefill); decode: the default --context")
    p.add_argument("--context", type=whole(0), default=None,
                   help="decode: KV-cache length before the step (default --seq)")
    p.add_argument("--dtype", default="bf16", help="precision to trace at (bf16, fp16, fp32)")
    p.add_argument("--no-fuse", nargs="+", default=[], metavar="PASS",
                   help="lowering passes to switch off, to see what each is worth")
    p.add_argument("--csv", default=None, metavar="FILE", help="write the op table as CSV")
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from hwspecs.dtypes import DType
    from workloads.lower.api import get_workload
    from workloads.lower.fuse import check_passes
    from workloads.summary import op_rows, summarize, write_op_csv

    check_passes(args.no_fuse)
    seq, context = args.seq, 0
    if args.phase == "decode":
        seq, context = 1, args.seq if args.context is None else args.context
    elif args.context not in (None, 0):
        raise ValueError(f"--context is the KV cache of a decode step; {args.phase} starts "
                         f"from an empty cache, so drop --context {args.context}")
    w = get_workload(args.model, args.phase, args.batch, seq, context, DType.parse(args.dtype),
                     disabled_passes=args.no_fuse)
    s = summarize(w)
    if args.csv:
        write_op_csv(w, args.csv)
    if args.json:
        print_json({
            "model": w.model.name, "phase": w.phase, "batch": w.batch, "seq": w.seq,
            "context": w.context, "dtype": w.dtype, "passes": list(w.passes),
            "flops": s.flops, "read_bytes": s.read_bytes, "write_bytes": s.write_bytes,
            "num_ops": s.num_ops, "params": s.params, "kv_cache_bytes": w.kv_cache_bytes,
            "saved_activation_bytes": w.saved_activation_bytes,
            "read_bytes_by_role": s.read_bytes_by_role,
            "write_bytes_by_role": s.write_bytes_by_role,
            "by_kind": [r.__dict__ for r in s.by_kind],
            "by_layer": [r.__dict__ for r in s.by_layer], "ops": op_rows(w)})
        return 0
    _print(w, s, args)
    return 0


def _gb(x: float) -> str:
    return f"{x / 1e9:,.3f}"


def _print(w, s, args) -> None:
    off = ", ".join(args.no_fuse) or "none"
    rows = [("model", w.model.name), ("phase", w.phase.value),
            ("batch x seq (+context)", f"{w.batch} x {w.seq} (+{w.context})"),
            ("parameters", f"{s.params / 1e9:,.3f} B"), ("kernels", f"{s.num_ops:,}"),
            ("GFLOP", f"{s.flops / 1e9:,.2f}"), ("read GB", _gb(s.read_bytes)),
            ("written GB", _gb(s.write_bytes)),
            ("read by role GB", ", ".join(f"{k} {_gb(v)}" for k, v in
                                          s.read_bytes_by_role.items())),
            ("KV cache after step GB", _gb(w.kv_cache_bytes)),
            ("activations kept for backward GB", _gb(w.saved_activation_bytes)),
            ("passes off", off)]
    print_table(f"Trace of {w.model.name} ({w.dtype.value})", ["", "value"], rows,
                right_align_from=2)
    table = [(r.key, r.num_ops, f"{r.flops / 1e9:,.2f}",
              f"{100 * r.flops / s.flops if s.flops else 0:,.1f}", _gb(r.read_bytes),
              _gb(r.write_bytes)) for r in s.by_kind]
    print_table("By kernel kind", ["kind", "kernels", "GFLOP", "% FLOPs", "read GB",
                                   "written GB"], table)
    table = [(r.key, r.num_ops, f"{r.flops / 1e9:,.2f}", _gb(r.read_bytes), _gb(r.write_bytes))
             for r in s.by_layer]
    print_table("By layer", ["layer", "kernels", "GFLOP", "read GB", "written GB"], table)
