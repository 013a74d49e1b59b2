"""`archsim serve`: simulate replicas of a model serving a stream of requests."""

from __future__ import annotations

import argparse

from archsim_cli.args import add_json, add_model, add_precision, add_system, request_of
from archsim_cli.defaults import DEFAULT_SERVING_SYSTEM
from archsim_cli.format import print_json, print_table


def add_scheduler_args(p) -> None:
    p.add_argument("--max-seqs", type=int, default=256, help="running sequences per replica")
    p.add_argument("--max-batched-tokens", type=int, default=8192,
                   help="tokens per iteration")
    p.add_argument("--no-chunked-prefill", action="store_true",
                   help="run whole prompts in prefill-only iterations")
    p.add_argument("--block-size", type=int, default=16, help="tokens per KV-cache block")


def scheduler_of(args):
    from simulator import SchedulerConfig

    return SchedulerConfig(max_seqs=args.max_seqs, max_batched_tokens=args.max_batched_tokens,
                           chunked_prefill=not args.no_chunked_prefill,
                           block_size=args.block_size)


def register(sub) -> None:
    p = sub.add_parser("serve", help="simulate serving a request stream: TTFT, TPOT, "
                                     "throughput, goodput, KV-cache use")
    add_model(p)
    add_system(p, DEFAULT_SERVING_SYSTEM)
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs per replica")
    p.add_argument("--replicas", type=int, default=1,
                   help="replicas (with --prefill-replicas: the decode replicas)")
    p.add_argument("--prefill-replicas", type=int, default=0,
                   help="disaggregate: this many more replicas only prefill, the KV cache "
                        "moving to the decode replicas over the scale-out link")
    p.add_argument("--qps", type=float, default=1.0, help="requests per second, all replicas")
    p.add_argument("--cv", type=float, default=1.0,
                   help="inter-arrival coefficient of variation (1: Poisson, >1: bursty)")
    p.add_argument("--input-len", default="512", help="512, uniform:128:1024, lognormal:512:0.5")
    p.add_argument("--output-len", default="128", help="as --input-len")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    p.add_argument("--trace", default=None,
                   help="CSV with arrival_s,input_len,output_len (replaces the rate and lengths)")
    p.add_argument("--slo-ttft", type=float, default=None, help="TTFT target (s) for goodput")
    p.add_argument("--slo-tpot", type=float, default=None, help="TPOT target (s) for goodput")
    p.add_argument("--router", choices=["round_robin", "least_outstanding"],
                   default="round_robin")
    add_precision(p, weights=False)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", default=None, help="write the per-request table to this CSV file")
    p.add_argument("--timeline-csv", default=None,
                   help="write queue length and KV-cache use over time to this CSV file")
    add_scheduler_args(p)
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from simulator import (
        Plan,
        ReplicaSpec,
        Slo,
        Traffic,
        parse_length,
        simulate_serving,
        system_for_gpus,
    )

    traffic = Traffic(rate_per_s=args.qps, duration_s=args.duration, cv=args.cv,
                      input_len=parse_length(args.input_len),
                      output_len=parse_length(args.output_len), trace=args.trace, seed=args.seed)
    spec = ReplicaSpec(args.model, system_for_gpus(args.system, args.tp), Plan(tp=args.tp),
                       request_of(args).options)
    result = simulate_serving(spec, traffic, args.replicas, scheduler_of(args),
                              router=args.router, slo=Slo(args.slo_ttft, args.slo_tpot),
                              prefill_replicas=args.prefill_replicas)
    if args.csv:
        result.requests_frame().to_csv(args.csv, index=False)
    if args.timeline_csv:
        result.timeline_frame().to_csv(args.timeline_csv, index=False)
    m = result.metrics()
    if args.json:
        print_json(m)
        return 0

    def ms(key: str) -> str:
        return f"{m[key] * 1e3:,.2f} ms"

    rows = [(name, ms(f"{key}_mean_s"), ms(f"{key}_p50_s"), ms(f"{key}_p90_s"),
             ms(f"{key}_p99_s")) for name, key in
            (("time to first token", "ttft"), ("time per output token", "tpot"),
             ("end-to-end latency", "e2e"))]
    pools = f"{args.prefill_replicas} prefill + " if args.prefill_replicas else ""
    print_table(f"{args.model} on {pools}{args.replicas} x {spec.label}: "
                f"{len(result.requests)} requests", ["latency", "mean", "p50", "p90", "p99"], rows)
    print_table("Throughput", ["", "value"], [
        ("completed / dropped", f"{m['completed']} / {m['dropped']}"),
        ("requests/s", f"{m['requests_per_s']:,.2f}"),
        ("goodput (requests/s within SLOs)", f"{m['goodput_rps']:,.2f}"),
        ("input tokens/s", f"{m['input_tokens_per_s']:,.0f}"),
        ("output tokens/s", f"{m['output_tokens_per_s']:,.0f}"),
        ("preemptions", m["preemptions"]),
        ("KV cache per replica", f"{m['kv_capacity_tokens']:,} tokens"),
        ("peak KV-cache use", f"{result.timeline_frame()['kv_used_fraction'].max():.0%}"),
        ("mean requests in system", f"{m['mean_in_system']:,.1f}")])
    return 0
