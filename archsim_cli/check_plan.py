"""`archsim check-plan`: one plan's kernels priced by the fitted model and from the measured
GPU tables side by side, the largest disagreements first."""

from __future__ import annotations

import argparse

from archsim_cli.args import (
    add_attn_dp,
    add_json,
    add_model,
    add_precision,
    add_pricing,
    request_of,
    whole,
)
from archsim_cli.defaults import DEFAULT_SYSTEM
from archsim_cli.format import print_json, print_table, seconds


def register(sub) -> None:
    p = sub.add_parser("check-plan", help="price every distinct kernel of one plan's step by "
                                          "the fitted model and from the measured GPU tables")
    add_model(p, required=True)
    p.add_argument("--system", default=DEFAULT_SYSTEM,
                   help="system or device name (e.g. dgx-h100, h100-sxm)")
    for name in ("tp", "pp", "ep"):
        p.add_argument(f"--{name}", type=whole(), default=1)
    add_attn_dp(p)
    p.add_argument("--phase", choices=["prefill", "decode"], default="decode")
    p.add_argument("--batch", type=whole(), default=1, help="sequences per step")
    p.add_argument("--seq", type=whole(), default=1024,
                   help="prefill: tokens per sequence; decode: the context when --context is "
                        "not given")
    p.add_argument("--context", type=whole(0), default=None,
                   help="decode: tokens already in the KV cache")
    add_precision(p)
    add_pricing(p, ideal=False)
    p.add_argument("--records", default=None, metavar="DIR",
                   help="imported records to look kernels up in (default: the committed set "
                        "of the device and engine)")
    p.add_argument("--top", type=whole(0), default=0, metavar="N",
                   help="print only the N largest discrepancies (0: every kernel)")
    p.add_argument("--csv", default=None, metavar="PATH", help="also write the table as CSV")
    add_json(p)
    p.set_defaults(run=_run, no_fuse=[])


def _plan(args):
    from simulator import Plan, system_for_gpus

    plan = Plan(tp=args.tp, pp=args.pp, ep=args.ep, attn_dp=args.attn_dp)
    return plan, system_for_gpus(args.system, args.tp * args.pp * args.attn_dp)


def check_table(args: argparse.Namespace):
    """The kernel table of the plan `args` name, and its totals."""
    from dataclasses import replace

    from archsim_cli.simulate import workload_of
    from simulator import KernelSource, measured_share, plan_kernel_check

    plan, system = _plan(args)
    options = replace(request_of(args).options, kernels=KernelSource.MEASURED,
                      kernels_dir=args.records)
    frame = plan_kernel_check(workload_of(args), system, plan, options)
    weight = frame["count"]
    gap = ((frame["model_s"] - frame["measured_s"]).abs() * weight).fillna(-1.0)
    frame = frame.assign(discrepancy_s=gap.where(gap >= 0)).sort_values(
        ["discrepancy_s", "priced_s"], ascending=False, na_position="last")
    covered = frame["source"] == "measured"
    totals = {
        "step_s": float((frame["priced_s"] * weight).sum()),
        "model_step_s": float((frame["model_s"] * weight).sum()),
        "measured_kernels_s": float((frame["measured_s"] * weight)[covered].sum()),
        "model_of_measured_kernels_s": float((frame["model_s"] * weight)[covered].sum()),
        **measured_share(frame)}
    return frame.reset_index(drop=True), totals, system, plan


def _run(args: argparse.Namespace) -> int:
    frame, totals, system, plan = check_table(args)
    if args.csv:
        frame.to_csv(args.csv, index=False)
    shown = frame.head(args.top) if args.top else frame
    if args.json:
        print_json({"model": args.model, "system": system.name, "plan": plan.as_dict(),
                    "phase": args.phase, "batch": args.batch, **totals,
                    "kernels": shown.to_dict(orient="records")})
        return 0
    print_table(f"{args.model} {args.phase} on {system.name}: {plan.serving_label()}, batch "
                f"{args.batch}: every distinct kernel of one GPU, largest discrepancy first",
                ["kernel", "class", "count", "shape", "measured", "model", "error", "priced by"],
                [(r.kernel[:28], r.kernel_class, f"{r.count:g}", r.shape,
                  "-" if r.measured_s != r.measured_s else seconds(r.measured_s),
                  seconds(r.model_s),
                  "-" if r.error != r.error else f"{r.error:+.1%}",
                  "measured" if r.source == "measured" else f"model: {r.reason}")
                 for r in shown.itertuples()])
    model_err = totals["model_of_measured_kernels_s"] / totals["measured_kernels_s"] - 1 \
        if totals["measured_kernels_s"] > 0 else float("nan")
    print_table("Totals per step", ["", "value"], [
        ("step, measured where covered", seconds(totals["step_s"])),
        ("step, fitted model", seconds(totals["model_step_s"])),
        ("measured kernels: measured", seconds(totals["measured_kernels_s"])),
        ("measured kernels: model", seconds(totals["model_of_measured_kernels_s"])
         + (f" ({model_err:+.1%})" if model_err == model_err else "")),
        ("measured share of the step", f"{totals['measured_share']:.1%}")])
    return 0

