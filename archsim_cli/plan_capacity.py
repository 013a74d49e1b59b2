"""`archsim plan-capacity`: the cheapest hardware, TP and replica count for a traffic and SLOs."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from archsim_cli.args import (
    add_attn_dp,
    add_json,
    add_kernels,
    add_model,
    add_precision_axes,
    add_pricing,
    cost_options_of,
    csv_of,
    precision_specs,
)
from archsim_cli.format import money, print_json, print_table
from archsim_cli.serve import add_scheduler_args, scheduler_of
from hwspecs.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("plan-capacity", help="how many of which GPU hold a request rate within "
                                             "p99 latency targets, ranked by cost")
    add_model(p)
    p.add_argument("--qps", type=float, default=None,
                   help="requests per second to serve (or --concurrency: the sweep)")
    p.add_argument("--input-len", default="512", help="512, uniform:128:1024, lognormal:512:0.5")
    p.add_argument("--output-len", default="128", help="as --input-len")
    p.add_argument("--slo-ttft-p99", type=float, default=None, help="p99 TTFT target (s)")
    p.add_argument("--slo-tpot-p99", type=float, default=None, help="p99 TPOT target (s)")
    p.add_argument("--hw", type=csv_of(str), required=True, help="devices or systems, a,b,c")
    p.add_argument("--tp", type=csv_of(int), default=(1, 2, 4, 8), help="TP degrees, e.g. 1,2,4")
    add_attn_dp(p, csv=True)
    add_precision_axes(p)
    p.add_argument("--requests", type=int, default=None,
                   help="requests per replication of each rate's steady-state estimate "
                        "(default: the planner's own)")
    p.add_argument("--max-replications", type=int, default=None,
                   help="the most replications per rate (doubled from 4 until the p99s' "
                        "intervals are clear of the SLOs or within 5%%)")
    p.add_argument("--concurrency", type=csv_of(int), default=None, metavar="N,N,...",
                   help="instead of --qps: sweep closed-loop concurrencies (e.g. 1,2,4,...,256):"
                        " tokens/s per GPU against per user for each option, the Pareto front "
                        "and the SLO line")
    p.add_argument("--disagg", action="store_true",
                   help="with --concurrency: also each TP as 1 prefill + 1 decode replica")
    p.add_argument("--csv", default=None,
                   help="write the capacity table (every option, ranked and refused) here; "
                        "with --concurrency, the points")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="with --concurrency: draw tokens/s per GPU against per user here")
    add_pricing(p, ideal=False)
    add_kernels(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=15)
    add_scheduler_args(p)
    add_json(p)
    p.set_defaults(run=_run)


def _steady(args: argparse.Namespace):
    from simulator import STEADY_STATE

    changes = {k: v for k, v in (("requests", args.requests),
                                 ("max_replications", args.max_replications)) if v is not None}
    if "max_replications" in changes:
        changes["replications"] = min(STEADY_STATE.replications, changes["max_replications"])
    return replace(STEADY_STATE, **changes)


def _run(args: argparse.Namespace) -> int:
    from simulator import CapacityQuery, Slo, kernel_fields, load_profile, parse_length
    from workloads.config import tp_plan_of

    if args.concurrency is not None:
        from archsim_cli.frontier import run_sweep

        return run_sweep(args)
    if None in (args.qps, args.slo_ttft_p99, args.slo_tpot_p99):
        raise InputError("plan-capacity needs --qps, --slo-ttft-p99 and --slo-tpot-p99, or "
                         "--concurrency for the concurrency sweep")

    q = CapacityQuery(model=args.model, qps=args.qps, input_len=parse_length(args.input_len),
                      output_len=parse_length(args.output_len),
                      slo=Slo(args.slo_ttft_p99, args.slo_tpot_p99), hardware=args.hw,
                      tps=args.tp, precisions=precision_specs(args), steady=_steady(args),
                      attn_dps=tuple(args.attn_dp),
                      seed=args.seed, scheduler=scheduler_of(args),
                      cost=cost_options_of(args), engine=args.engine,
                      tp_plan=tp_plan_of(args.model) if args.model else None,
                      **kernel_fields(args.kernels),
                      profile=load_profile(args.profile) if args.profile else None)
    plan = _plan_with_progress(q, quiet=args.json)
    best = plan.best_reachable()
    shown = plan.ranked[:max(args.top, 0)]
    hidden = len(plan.ranked) - len(shown)
    if args.csv:
        capacity_frame(plan).to_csv(args.csv, index=False)
    if args.json:
        print_json({"feasible": bool(plan.ranked),
                    "ranked": [c.as_dict() for c in shown], "hidden": hidden,
                    "pareto": [c.as_dict() for c in plan.pareto],
                    "refused": [c.as_dict() for c in plan.refused],
                    "steady_state": q.steady.describe(),
                    "best_reachable": best.as_dict() if best and not plan.ranked else None})
        return 0 if plan.ranked else 1
    _print(args, q, plan, shown, hidden)
    if not plan.ranked:
        where = "" if best is None else (
            f"; the best reachable is {best.hardware} TP{best.tp} with p99 TTFT "
            f"{best.ttft_p99_s * 1e3:.1f} ms and TPOT {best.tpot_p99_s * 1e3:.2f} ms at low "
            f"load ({best.kind}: {best.reason})")
        print(f"No configuration meets the SLOs{where}.", file=sys.stderr)
        return 1
    return 0


def _plan_with_progress(q, quiet: bool):
    from simulator import plan_capacity

    if quiet:
        return plan_capacity(q)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("Bisecting each option's steady-state rate", total=None)
        return plan_capacity(q, progress=lambda done, total: bar.update(
            task, completed=done, total=total))


def capacity_frame(plan):
    """Every option, ranked then refused, all fields (the --csv table)."""
    import pandas as pd

    from simulator import Candidate

    rows = [{"rank": i + 1, **c.as_dict()} for i, c in enumerate(plan.ranked)]
    rows += [{"rank": None, **c.as_dict()} for c in plan.refused]
    return pd.DataFrame(rows, columns=["rank", *Candidate.__dataclass_fields__])


def _ms(x: float, lo: float, hi: float, digits: int) -> str:
    return f"{x * 1e3:,.{digits}f} ±{(hi - lo) / 2 * 1e3:,.{digits}f}"


def _print(args, q, plan, shown, hidden: int) -> None:
    from simulator import OUTLIER_COST_RATIO, OUTLIER_REPLICAS

    rows = [(i + 1, c.hardware, _plan(c), c.precision, f"{c.max_rate_per_replica:,.2f}",
             c.replicas, c.gpus, money(c.usd_per_hour), money(c.usd_per_1m_input_tokens),
             money(c.usd_per_1m_output_tokens), money(c.usd_per_1m_tokens),
             money(c.usd_per_request),
             "-" if c.kw_per_replica is None else f"{c.kw_per_replica:,.1f}",
             f"{c.load_per_replica:,.2f}",
             _ms(c.ttft_p99_s, c.ttft_p99_low_s, c.ttft_p99_high_s, 0),
             _ms(c.tpot_p99_s, c.tpot_p99_low_s, c.tpot_p99_high_s, 1),
             "*" if c.pareto else "", "outlier" if c.outlier else "")
            for i, c in enumerate(shown)]
    print_table(f"{args.model} at {args.qps:g} requests/s, p99 TTFT <= {args.slo_ttft_p99:g} s, "
                f"TPOT <= {args.slo_tpot_p99:g} s: cheapest first (* Pareto: $/h vs p99 e2e)",
                ["#", "hardware", "TP", "dtype", "max req/s per replica", "replicas", "GPUs",
                 "$/hour", "$/1M in", "$/1M out", "$/1M blended", "$/request", "kW/replica",
                 "planned req/s per replica", "TTFT p99 ms at planned load (95% CI)",
                 "TPOT p99 ms at planned load (95% CI)", "P", "note"], rows,
                right_align_from=2)
    print(f"Latencies at the planned load ({args.qps:g} requests/s over the replicas), steady "
          f"state: {q.steady.describe()}. Each $/1M column puts the whole hour's cost on that "
          "token kind; kW at full load.")
    if hidden:
        print(f"{hidden} more option(s) not shown: --top {len(plan.ranked)} shows all, --csv "
              "writes them.")
    outliers = [c for c in shown if c.outlier]
    for c in outliers:
        print(f"outlier: {c.hardware} TP{_plan(c)} {c.precision}: {c.outlier} (flagged past "
              f"{OUTLIER_REPLICAS} replicas or {OUTLIER_COST_RATIO:g}x the cheapest $/hour)")
    if plan.refused:
        print_table("Refused (binding limit: why)", ["hardware", "TP", "dtype", "limit", "why"],
                    [(c.hardware, _plan(c), c.precision, str(c.kind), c.reason)
                     for c in plan.refused])


def _plan(c) -> str:
    """The TP column: the degree, with attention DP and EP where the replica uses them."""
    return str(c.tp) if c.attn_dp == 1 else f"{c.tp} adp{c.attn_dp} ep{c.ep}"
