"""`archsim simulate` (one device) and `archsim compare` (several): price a traced model."""

from __future__ import annotations

import argparse

from archsim_cli.output import add_json_flag, print_json, print_table

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_DEVICES = "h100-sxm,h200-sxm,b200,mi300x"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"catalog name, config.json path or Hub id (default {DEFAULT_MODEL})")
    p.add_argument("--phase", choices=["prefill", "decode", "train"], default="prefill")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=2048, help="prompt or training sequence length")
    p.add_argument("--context", type=int, default=None,
                   help="decode: KV-cache length before the step (default: --seq)")
    p.add_argument("--dtype", default="bf16",
                   help="compute precision of weights and activations: bf16, fp16, fp8, fp32...")
    p.add_argument("--weights-dtype", default=None, help="override weights alone (e.g. int4)")
    p.add_argument("--kv-dtype", default=None, help="override the KV cache alone (e.g. fp8)")
    p.add_argument("--sparse", action="store_true", help="2:4 structured sparsity of weights")
    p.add_argument("--ideal", action="store_true",
                   help="speed of light: efficiencies 1, no per-kernel overhead")
    p.add_argument("--recompute", choices=["none", "selective", "full"], default="none")
    p.add_argument("--pricing", choices=["rent", "tco"], default="rent",
                   help="dollars from the spec's cloud rent, or as total cost of ownership")
    p.add_argument("--no-fuse", nargs="*", default=[], metavar="PASS",
                   help="lowering passes to switch off (see `archsim trace --help`)")
    add_json_flag(p)


def register(sub) -> None:
    p = sub.add_parser("simulate", help="price a model step on one device")
    _add_common(p)
    p.add_argument("--hw", default="h100-sxm", help="device name or YAML path")
    p.add_argument("--plot", default=None, metavar="PNG", help="write a roofline chart")
    p.add_argument("--ops", type=int, default=0, metavar="N",
                   help="also print the N slowest kernels")
    p.set_defaults(run=_simulate)

    c = sub.add_parser("compare", help="price a model step on several devices side by side")
    _add_common(c)
    c.add_argument("--hw", default=DEFAULT_DEVICES,
                   help=f"comma-separated devices (default {DEFAULT_DEVICES}); 'all' for every "
                        "shipped device")
    c.add_argument("--plot", default=None, metavar="PNG", help="write a roofline chart")
    c.set_defaults(run=_compare)


def _workload(args):
    from hwspecs.dtypes import DType
    from workloads import get_workload

    context = 0
    seq = args.seq
    if args.phase == "decode":
        context = args.seq if args.context is None else args.context
        seq = 1
    return get_workload(args.model, args.phase, batch=args.batch, seq=seq, context=context,
                        dtype=DType.BF16, disabled_passes=tuple(args.no_fuse))


def _options(args):
    from simulator import CostOptions, Options, Precision, Recompute

    return Options(
        precision=Precision.parse(args.dtype, weights=args.weights_dtype, kv=args.kv_dtype,
                                  sparse=args.sparse),
        ideal=args.ideal, recompute=Recompute.parse(args.recompute),
        cost=CostOptions(pricing=args.pricing))


def _fmt_s(x: float) -> str:
    from hwspecs.units import fmt_seconds

    return fmt_seconds(x)


def _money(x) -> str:
    return "-" if x is None else f"${x:,.4f}"


def _simulate(args: argparse.Namespace) -> int:
    from hwspecs import load_device
    from simulator import simulate

    device = load_device(args.hw)
    report = simulate(_workload(args), device, _options(args))
    if args.plot:
        from archsim_cli.roofline_plot import plot_roofline

        plot_roofline([report], [device], args.plot)
    if args.json:
        out = report.summary()
        out["by_kind"] = report.by_kind().reset_index().to_dict(orient="records")
        print_json(out)
        return 0
    _print_summary([report])
    frame = report.by_kind()
    total = report.time_s
    print_table("Time by kernel kind", ["kind", "ops", "GFLOP", "GB", "time", "share"],
                [(k, int(r.ops), f"{r.flops / 1e9:,.1f}", f"{r.bytes / 1e9:,.3f}",
                  _fmt_s(r.time_s), f"{r.time_s / total:.1%}") for k, r in frame.iterrows()])
    fp = report.footprint
    print_table("Memory per device", ["part", "GB"], [
        ("weights", f"{fp.weights_bytes / 1e9:,.2f}"), ("KV cache", f"{fp.kv_cache_bytes / 1e9:,.2f}"),
        ("activations", f"{fp.activation_bytes / 1e9:,.2f}"),
        ("gradients", f"{fp.gradient_bytes / 1e9:,.2f}"),
        ("optimizer states", f"{fp.optimizer_bytes / 1e9:,.2f}"),
        ("total", f"{fp.total_bytes / 1e9:,.2f}"),
        ("capacity", f"{fp.capacity_bytes / 1e9:,.2f}")])
    if args.ops:
        ops = report.to_frame().nlargest(args.ops, "time_s")
        print_table(f"{args.ops} slowest kernels", ["name", "kind", "layer", "time", "bound"],
                    [(r["name"], r["kind"], r["layer"], _fmt_s(r["time_s"]), r["bound"])
                     for _, r in ops.iterrows()])
    print(f"profile: {report.profile}")
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
    workload = _workload(args)
    reports = compare(workload, devices, _options(args))
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
        rows.append((r.device, _fmt_s(r.time_s), r.bound, f"{r.tokens_per_s:,.1f}",
                     f"{r.footprint.total_bytes / 1e9:,.1f}",
                     "yes" if r.footprint.feasible else "NO (out of memory)", extra,
                     _money(r.cost.usd_per_1m_tokens),
                     "-" if r.cost.j_per_token is None else f"{r.cost.j_per_token:,.3f}"))
    print_table(title, cols, rows)
