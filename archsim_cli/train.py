"""`archsim train`: a training step on a multi-GPU parallel plan, or a search over plans."""

from __future__ import annotations

import argparse

from archsim_cli.args import (
    add_gpus,
    add_json,
    add_kernels,
    add_model,
    add_plan,
    add_precision,
    add_pricing,
    add_search,
    add_system,
    check_gpus,
    check_plan_first,
    pipeline_of,
    positive,
    request_of,
    whole,
)
from archsim_cli.defaults import DEFAULT_SEQ, DEFAULT_SYSTEM
from archsim_cli.families import say_family_errors
from archsim_cli.format import (
    gpus_on,
    money,
    print_json,
    print_memory,
    print_search,
    print_table,
    search_json,
)
from archsim_cli.measured_share import say_share, share_json, share_of
from archsim_cli.provenance import priced_by, say_priced_by


def register(sub) -> None:
    p = sub.add_parser("train", help="price a training step on a parallel plan (--search: "
                                     "rank the feasible plans)")
    add_model(p)
    add_system(p, DEFAULT_SYSTEM)
    add_gpus(p, "tp x pp x cp x dp")
    add_plan(p, training=True)
    p.add_argument("--sp", action="store_true", default=None, help="sequence parallelism")
    p.add_argument("--zero", type=int, default=0, choices=[0, 1, 2, 3], help="ZeRO stage")
    p.add_argument("--fsdp", action="store_true", help="FSDP FULL_SHARD (same as --zero 3)")
    p.add_argument("--recompute", choices=["none", "selective", "full"], default=None,
                   help="activation recompute (default none; with --search, all are tried)")
    p.add_argument("--micro-batch", type=whole(), default=1)
    p.add_argument("--global-batch", type=whole(), default=None,
                   help="sequences per step (default: one micro-batch per DP rank)")
    p.add_argument("--seq", type=whole(), default=DEFAULT_SEQ)
    add_precision(p, weights=False, kv=False)
    p.add_argument("--tokens", type=positive, default=None,
                   help="also give the days and dollars to train on this many tokens")
    p.add_argument("--overlap-tp", action="store_true", help="hide TP collectives in GEMMs")
    p.add_argument("--no-overlap-dp", action="store_true",
                   help="do not hide DP gradient reduction behind backward")
    add_pricing(p)
    add_kernels(p)
    add_search(p, "tp, pp, dp, ZeRO, micro-batch, and sp and recompute unless given")
    add_json(p)
    p.set_defaults(run=_run)


def _overlap(args):
    from simulator import Overlap

    return Overlap(tp=args.overlap_tp, dp=not args.no_overlap_dp)


def _plan(args, gpus: int | None):
    from simulator import Plan, Recompute, data_parallel

    pp, pp_layers = pipeline_of(args)
    dp = args.dp if args.dp is not None else (
        data_parallel(gpus, args.tp, pp, args.cp) if gpus else 1)
    return Plan(tp=args.tp, pp=pp, dp=dp, cp=args.cp, ep=args.ep, sp=bool(args.sp),
                pp_layers=pp_layers,
                vp=args.vp, zero=3 if args.fsdp else args.zero, micro_batch=args.micro_batch,
                global_batch=args.global_batch,
                recompute=Recompute.parse(args.recompute or "none"),
                expert_imbalance=args.imbalance, overlap=_overlap(args))


def _run(args: argparse.Namespace) -> int:
    from hwspecs.dtypes import DType
    from simulator import evaluate, prepare, system_for_gpus, training_measured_share
    from workloads import get_workload

    pp, _ = pipeline_of(args)
    if not args.search:
        check_gpus(args.gpus, {"tp": args.tp, "pp": pp, "cp": args.cp, "dp": args.dp})
    gpus = args.gpus or (None if args.search else args.tp * pp * args.cp * (args.dp or 1))
    system = system_for_gpus(args.system, gpus)
    if not args.search:
        check_plan_first(args.model, _plan(args, args.gpus), system.num_devices, args.seq,
                         training=True)
    workload = get_workload(args.model, "train", batch=1, seq=args.seq, dtype=DType.BF16)
    options = request_of(args).options
    prep = prepare(workload, system, options)
    if args.search:
        return _search(args, prep, system)
    plan = _plan(args, args.gpus)
    report = evaluate(prep, plan, args.tokens)
    share = share_of(options, lambda: training_measured_share(prep, plan))
    if args.json:
        print_json({**report.summary(), **priced_by(system.device, options),
                    **share_json(share)})
        return 0
    _print_report(report)
    say_priced_by(system.device, options)
    say_share(share)
    return 0


def _search(args, prep, system) -> int:
    from simulator import Recompute, TrainSpace, search_training

    gpus = args.gpus or system.num_devices
    pp, pp_layers = pipeline_of(args)
    extra = {"expert_imbalance": args.imbalance, "overlap": _overlap(args)}
    if pp_layers is not None:
        extra["pp_layers"] = pp_layers
    space = TrainSpace(
        pp=(pp,) if pp_layers is not None else None,
        cp=(args.cp,), ep=(args.ep,), vp=(args.vp,),
        sp=(bool(args.sp),) if args.sp is not None else (False, True),
        recompute=(Recompute.parse(args.recompute),) if args.recompute else tuple(Recompute),
        extra=extra)
    result = search_training(prep, gpus, args.global_batch or gpus, args.objective, space,
                             args.tokens)
    if args.json:
        print_json(search_json(result, args.top))
        return 0
    columns = ["plan", "step", "tokens/s", "MFU", "GB/GPU", "$/1M tok"]
    if args.tokens:
        columns += ["days", "$ to train"]
    rows = []
    for r, u in zip(result.ranked[:args.top], result.uncertainty, strict=False):
        row = [r.plan.label(), f"{r.step_time_s:,.3f} s", f"{r.tokens_per_s:,.0f}",
               f"{r.mfu:.1%}", f"{r.memory_bytes_per_gpu / 1e9:,.1f}",
               money(r.cost.usd_per_1m_tokens)]
        if args.tokens:
            row += [f"{r.days:,.1f}", f"${r.usd:,.0f}"]
        rows.append((*row, u.label()))
    tokens = f", {args.tokens:,.3g} tokens to train" if args.tokens else ""
    print_search(f"{prep.workload.model.name} on {gpus} x {system.device.name}: best plans by "
                 f"{result.objective}{tokens} ({len(result.ranked)} feasible of "
                 f"{result.evaluated})", [*columns, "family err"], rows, result)
    say_family_errors(result.uncertainty[:args.top])
    return 0


_TOTALS = ("exposed_comm_s", "comm_s")   # summaries, not parts of the step


def _print_report(r) -> None:
    s = r.summary()
    title = (f"{r.model} training on {gpus_on(r.gpus, r.system)}: {r.plan.label()}, "
             f"seq {r.seq}, global batch {r.plan.batch}")
    rows = [("step time", f"{r.step_time_s:,.4f} s"), ("tokens/s", f"{r.tokens_per_s:,.0f}"),
            ("MFU / HFU", f"{r.mfu:.1%} / {r.hfu:.1%}"),
            ("TFLOP/s per GPU (model)", f"{s['model_flops_per_s_per_gpu'] / 1e12:,.1f}"),
            ("pipeline bubble", f"{r.bubble_fraction:.1%}"),
            ("memory per GPU", f"{r.memory_bytes_per_gpu / 1e9:,.1f} GB of "
                               f"{r.footprint.capacity_bytes / 1e9:,.0f} GB"),
            ("fits", "yes" if r.feasible else "NO (out of memory)"),
            ("$ per 1M tokens", money(r.cost.usd_per_1m_tokens))]
    if r.days is not None:
        rows += [("days to train", f"{r.days:,.1f}"), ("cost to train", money(r.usd))]
    print_table(title, ["", "value"], rows)
    parts = {k: v for k, v in r.breakdown_s.items() if k not in _TOTALS}
    print_table("Where the step goes (critical stage)", ["part", "seconds", "share"],
                [(k.removesuffix("_s"), f"{v:,.4f}", f"{v / r.step_time_s:.1%}")
                 for k, v in parts.items()]
                + [(k.removesuffix("_s"), f"{r.breakdown_s[k]:,.4f}", "") for k in _TOTALS])
    print_memory(r.footprint, f"Memory per GPU (stage {r.peak_stage})", skip_zero=True)
