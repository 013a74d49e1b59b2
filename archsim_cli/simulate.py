"""`archsim simulate` (one device) and `archsim compare` (several): price a traced model."""

from __future__ import annotations

import argparse

from archsim_cli.args import (
    add_json,
    add_kernels,
    add_model,
    add_precision,
    add_pricing,
    add_step,
    request_of,
    whole,
)
from archsim_cli.defaults import DEFAULT_DEVICE, DEFAULT_DEVICES
from archsim_cli.format import money, print_json, print_memory, print_table, seconds
from archsim_cli.measured_share import say_share, share_json, share_of


def _add_common(p: argparse.ArgumentParser) -> None:
    add_model(p)
    add_step(p)
    add_precision(p, sparse=True)
    add_pricing(p)
    add_kernels(p)
    p.add_argument("--recompute", choices=["none", "selective", "full"], default="none")
    p.add_argument("--no-fuse", nargs="*", default=[], metavar="PASS",
                   help="lowering passes to switch off (see `archsim trace --help`)")
    add_json(p)


def register(sub) -> None:
    p = sub.add_parser("simulate", help="price a model step on one device")
    _add_common(p)
    p.add_argument("--hw", default=DEFAULT_DEVICE, help="device name or YAML path")
    p.add_argument("--plot", default=None, metavar="PNG", help="write a roofline chart")
    p.add_argument("--ops", type=whole(0), default=0, metavar="N",
                   help="also print the N slowest kernels")
    p.set_defaults(run=_simulate)

    devices = ",".join(DEFAULT_DEVICES)
    c = sub.add_parser("compare", help="price a model step on several devices side by side")
    _add_common(c)
    c.add_argument("--hw", default=devices,
                   help=f"comma-separated devices (default {devices}); 'all' for every "
                        "shipped device")
    c.add_argument("--plot", default=None, metavar="PNG", help="write a roofline chart")
    c.set_defaults(run=_compare)


def workload_of(args):
    """The step `--phase/--batch/--seq/--context` ask for, traced at bf16 (precision is a
    pricing option)."""
    from hwspecs.dtypes import DType
    from workloads import get_workload

    context = 0
    seq = args.seq
    if args.phase == "decode":
        context = args.seq if args.context is None else args.context
        seq = 1
    return get_workload(args.model, args.phase, batch=args.batch, seq=seq, context=context,
                        dtype=DType.BF16, disabled_passes=tuple(args.no_fuse))


def _simulate(args: argparse.Namespace) -> int:
    from hwspecs import load_device
    from simulator import measured_share, simulate, workload_kernel_check

    device = load_device(args.hw)
    options = request_of(args).options
    workload = workload_of(args)
    report = simulate(workload, device, options)
    share = share_of(options, lambda: measured_share(
        workload_kernel_check(workload, device, options)))
    if args.plot:
        from archsim_cli.roofline_plot import plot_roofline

        plot_roofline([report], [device], args.plot)
    if args.json:
        out = report.summary()
        out["by_kind"] = report.by_kind().reset_index().to_dict(orient="records")
        out.update(share_json(share))
        print_json(out)
        return 0
    _print_summary([report])
    frame = report.by_kind()
    total = report.time_s
    print_table("Time by kernel kind", ["kind", "ops", "GFLOP", "GB", "time", "share"],
                [(k, int(r.ops), f"{r.flops / 1e9:,.1f}", f"{r.bytes / 1e9:,.3f}",
                  seconds(r.time_s), f"{r.time_s / total:.1%}") for k, r in frame.iterrows()])
    print_memory(report.footprint, "Memory per device")
    if args.ops:
        ops = report.to_frame().nlargest(args.ops, "time_s")
        print_table(f"{args.ops} slowest kernels", ["name", "kind", "layer", "time", "bound"],
                    [(r["name"], r["kind"], r["layer"], seconds(r["time_s"]), r["bound"])
                     for _, r in ops.iterrows()])
    print(f"profile: {report.profile_origin}")
    say_share(share)
    return 0



def _devices(spec: str):
    from hwspecs import load_all_devices, load_device

    if spec.strip() == "all":
        return load_all_devices()
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ValueError("--hw needs at least one device name")
    return [load_device(n) for n in names]


def _compare(args: argparse.Namespace) -> int:
    from simulator import compare

    devices = _devices(args.hw)
    reports = compare(workload_of(args), devices, request_of(args).options)
    if args.plot:
        from archsim_cli.roofline_plot import plot_roofline

        plot_roofline(reports, devices, args.plot)
    if args.json:
        print_json([r.summary() for r in reports])
        return 0
    _print_summary(reports)
    return 0


def _print_summary(reports) -> None:
    first = reports[0]
    title = (f"{first.model} {first.phase.value}: batch {first.batch}, seq {first.seq}"
             + (f", context {first.context}" if first.context else "")
             + f", {first.precision}" + (" (ideal)" if first.ideal else ""))
    train = first.phase.value == "train"
    cols = ["device", "time", "bound", "tokens/s", "memory GB", "fits",
            "MFU" if train else "max batch", "$/1M tok", "J/token"]
    rows = []
    for r in reports:
        extra = f"{r.mfu:.1%}" if train else f"{r.max_batch:,}"
        rows.append((r.device, seconds(r.time_s), r.bound, f"{r.tokens_per_s:,.1f}",
                     f"{r.footprint.total_bytes / 1e9:,.1f}",
                     "yes" if r.footprint.feasible else "NO (out of memory)", extra,
                     money(r.cost.usd_per_1m_tokens),
                     "-" if r.cost.j_per_token is None else f"{r.cost.j_per_token:,.3f}"))
    print_table(title, cols, rows)
