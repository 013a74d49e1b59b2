"""`archsim plan-capacity`: the cheapest hardware, TP and replica count for a traffic and SLOs."""

from __future__ import annotations

import argparse
import sys

from archsim_cli.args import add_attn_dp, add_json, add_model, add_pricing, csv_of
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
    p.add_argument("--dtype", type=csv_of(str), default=("bf16",), help="precisions, e.g. bf16,fp8")
    p.add_argument("--requests", type=int, default=400, help="requests per simulation")
    p.add_argument("--concurrency", type=csv_of(int), default=None, metavar="N,N,...",
                   help="instead of --qps: sweep closed-loop concurrencies (e.g. 1,2,4,...,256):"
                        " tokens/s per GPU against per user for each option, the Pareto front "
                        "and the SLO line")
    p.add_argument("--disagg", action="store_true",
                   help="with --concurrency: also each TP as 1 prefill + 1 decode replica")
    p.add_argument("--csv", default=None, help="with --concurrency: write the points here")
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="with --concurrency: draw tokens/s per GPU against per user here")
    add_pricing(p, ideal=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=15)
    add_scheduler_args(p)
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from simulator import CapacityQuery, CostOptions, Slo, parse_length, plan_capacity

    if args.concurrency is not None:
        from archsim_cli.frontier import run_sweep

        return run_sweep(args)
    if None in (args.qps, args.slo_ttft_p99, args.slo_tpot_p99):
        raise InputError("plan-capacity needs --qps, --slo-ttft-p99 and --slo-tpot-p99, or "
                         "--concurrency for the concurrency sweep")

    q = CapacityQuery(model=args.model, qps=args.qps, input_len=parse_length(args.input_len),
                      output_len=parse_length(args.output_len),
                      slo=Slo(args.slo_ttft_p99, args.slo_tpot_p99), hardware=args.hw,
                      tps=args.tp, precisions=args.dtype, requests=args.requests,
                      attn_dps=tuple(args.attn_dp),
                      seed=args.seed, scheduler=scheduler_of(args),
                      cost=CostOptions(pricing=args.pricing))
    plan = plan_capacity(q)
    best = plan.best_reachable()
    if args.json:
        print_json({"feasible": bool(plan.ranked),
                    "ranked": [c.as_dict() for c in plan.ranked[:args.top]],
                    "pareto": [c.as_dict() for c in plan.pareto],
                    "refused": [c.as_dict() for c in plan.refused],
                    "best_reachable": best.as_dict() if best and not plan.ranked else None})
        return 0 if plan.ranked else 1
    rows = [(i + 1, c.hardware, _plan(c), c.precision, f"{c.max_rate_per_replica:,.2f}",
             c.replicas, c.gpus, money(c.usd_per_hour), money(c.usd_per_1m_output_tokens),
             f"{c.ttft_p99_s * 1e3:,.0f}", f"{c.tpot_p99_s * 1e3:,.1f}",
             "*" if c.pareto else "") for i, c in enumerate(plan.ranked[:args.top])]
    print_table(f"{args.model} at {args.qps:g} requests/s, p99 TTFT <= {args.slo_ttft_p99:g} s, "
                f"TPOT <= {args.slo_tpot_p99:g} s: cheapest first (* Pareto: $/h vs p99 e2e)",
                ["#", "hardware", "TP", "dtype", "req/s per replica", "replicas", "GPUs",
                 "$/hour", "$/1M out", "TTFT p99 ms", "TPOT p99 ms", "P"], rows,
                right_align_from=2)
    if plan.refused:
        print_table("Refused", ["hardware", "TP", "dtype", "why"],
                    [(c.hardware, _plan(c), c.precision, c.reason) for c in plan.refused])
    if not plan.ranked:
        where = "" if best is None else (
            f"; the best reachable is {best.hardware} TP{best.tp} with p99 TTFT "
            f"{best.ttft_p99_s * 1e3:.1f} ms and TPOT {best.tpot_p99_s * 1e3:.2f} ms at low load")
        print(f"No configuration meets the SLOs{where}.", file=sys.stderr)
        return 1
    return 0


def _plan(c) -> str:
    """The TP column: the degree, with attention DP and EP where the replica uses them."""
    return str(c.tp) if c.attn_dp == 1 else f"{c.tp} adp{c.attn_dp} ep{c.ep}"
