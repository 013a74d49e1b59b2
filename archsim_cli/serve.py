"""`archsim serve`: simulate replicas of a model serving a stream of requests, open loop (a
request rate) or closed loop (N requests in flight, as serving benchmarks run)."""

from __future__ import annotations

import argparse
import sys

from archsim_cli.args import (
    add_attn_dp,
    add_json,
    add_kernels,
    add_model,
    add_precision,
    add_pricing,
    add_system,
    request_of,
)
from archsim_cli.defaults import DEFAULT_SERVING_SYSTEM
from archsim_cli.format import print_json, print_table
from archsim_cli.measured_share import say_share, share_json, share_of
from archsim_cli.provenance import priced_by, say_priced_by

ENGINE_HELP = ("--engine trtllm|vllm|sglang also sets that engine's scheduler defaults (each "
               "with its source: see the 'Engine preset' table) and keeps the KV cache in the "
               "model's bf16 unless --kv-dtype; every scheduler flag below overrides its "
               "preset value")


def add_scheduler_args(p) -> None:
    """Scheduler and memory flags; unset ones take the engine preset's (or archsim's)."""
    g = p.add_argument_group("scheduler (default: the --engine preset, else archsim's: 256 "
                             "sequences, 8192 tokens, chunked, 16-token blocks, 90% memory)")
    g.add_argument("--max-seqs", type=int, default=None, help="running sequences per replica")
    g.add_argument("--max-batched-tokens", type=int, default=None,
                   help="tokens per iteration")
    g.add_argument("--chunked-prefill", action=argparse.BooleanOptionalAction, default=None,
                   help="split prompts over iterations (--no-chunked-prefill: whole prompts)")
    g.add_argument("--chunk-size", type=int, default=None,
                   help="a prompt's tokens per iteration when chunking")
    g.add_argument("--mixed", action=argparse.BooleanOptionalAction, default=None,
                   help="prompts and decodes in one iteration (--no-mixed: prefill-only "
                        "iterations; default: with chunking)")
    g.add_argument("--block-size", type=int, default=None, help="tokens per KV-cache block")
    g.add_argument("--memory-utilization", type=float, default=None,
                   help="share of GPU memory the engine's rule gives the KV cache (0-1]")
    g.add_argument("--host-overhead-us", type=float, default=None,
                   help="CPU time per iteration not hidden behind the GPU (us)")
    g.add_argument("--admit-reserve", type=float, default=None,
                   help="admit a request only while the KV cache keeps this share (0-1) of "
                        "the running ones' remaining output")


def scheduler_overrides(args) -> dict:
    get = vars(args).get
    us = get("host_overhead_us")
    return {"max_seqs": get("max_seqs"), "max_batched_tokens": get("max_batched_tokens"),
            "chunked_prefill": get("chunked_prefill"), "chunk_size": get("chunk_size"),
            "mixed": get("mixed"), "block_size": get("block_size"),
            "memory_share": get("memory_utilization"), "admit_reserve": get("admit_reserve"),
            "host_overhead_s": None if us is None else us * 1e-6}


def scheduler_of(args):
    """The scheduler without an engine preset: archsim's defaults and the flags."""
    from dataclasses import replace

    from simulator import SchedulerConfig

    values = {k: v for k, v in scheduler_overrides(args).items()
              if v is not None and k != "memory_share"}
    return replace(SchedulerConfig(), **values)


def register(sub) -> None:
    p = sub.add_parser("serve", help="simulate serving a request stream or a closed loop: "
                                     "TTFT, TPOT, throughput, goodput, KV-cache use",
                       description=ENGINE_HELP)
    add_model(p)
    add_system(p, DEFAULT_SERVING_SYSTEM)
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs per replica")
    p.add_argument("--ep", type=int, default=1, help="expert-parallel ranks per replica (MoE)")
    add_attn_dp(p)
    p.add_argument("--replicas", type=int, default=1,
                   help="replicas (with --prefill-replicas: the decode replicas)")
    p.add_argument("--prefill-replicas", type=int, default=0,
                   help="disaggregate: this many more replicas only prefill, the KV cache "
                        "moving to the decode replicas over the scale-out link")
    p.add_argument("--prefill-tp", type=int, default=None,
                   help="TP of a prefill replica (default --tp; closed loop only)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="closed loop: keep this many requests in flight (replaces --qps)")
    p.add_argument("--requests", type=int, default=None,
                   help="closed loop: requests to send, the first --concurrency of them the "
                        "warm-up (default 10 x concurrency)")
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
    add_precision(p, weights=True)
    add_pricing(p, ideal=False)
    add_kernels(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", default=None, help="write the per-request table to this CSV file")
    p.add_argument("--timeline-csv", default=None,
                   help="write queue length and KV-cache use over time to this CSV file")
    add_scheduler_args(p)
    add_json(p)
    p.set_defaults(run=_run)


def _setup(args, tp: int):
    from simulator import Plan, replica_setup, system_for_gpus

    return replica_setup(args.model, system_for_gpus(args.system, tp * args.attn_dp),
                         Plan(tp=tp, ep=args.ep, attn_dp=args.attn_dp),
                         request_of(args).options, scheduler_overrides(args),
                         kv_auto=args.kv_dtype is None)


def _run(args: argparse.Namespace) -> int:
    if args.concurrency is not None:
        return _closed(args)
    from simulator import Slo, Traffic, open_loop_measured_share, parse_length, simulate_serving

    traffic = Traffic(rate_per_s=args.qps, duration_s=args.duration, cv=args.cv,
                      input_len=parse_length(args.input_len),
                      output_len=parse_length(args.output_len), trace=args.trace, seed=args.seed)
    spec, config, settings = _setup(args, args.tp)
    result = simulate_serving(spec, traffic, args.replicas, config,
                              router=args.router, slo=Slo(args.slo_ttft, args.slo_tpot),
                              prefill_replicas=args.prefill_replicas)
    if args.csv:
        result.requests_frame().to_csv(args.csv, index=False)
    if args.timeline_csv:
        result.timeline_frame().to_csv(args.timeline_csv, index=False)
    m = result.metrics()
    m = {**m, **_dollars(spec, m, (args.replicas + args.prefill_replicas) * spec.gpus)}
    share = share_of(spec.options, lambda: open_loop_measured_share(result, config.max_seqs))
    if args.json:
        m = {**m, **priced_by(spec.system.device, spec.options), **share_json(share)}
        print_json(m if settings is None else {**m, "engine": settings.as_dict()})
        return 0
    _print_latencies(f"{args.model} on {_pools(args)}{args.replicas} x {spec.label}: "
                     f"{len(result.requests)} requests", m, "e2e")
    print_table("Throughput", ["", "value"], [
        ("completed / dropped", f"{m['completed']} / {m['dropped']}"),
        ("requests/s", f"{m['requests_per_s']:,.2f}"),
        ("goodput (requests/s within SLOs)", f"{m['goodput_rps']:,.2f}"),
        ("input tokens/s", f"{m['input_tokens_per_s']:,.0f}"),
        ("output tokens/s", f"{m['output_tokens_per_s']:,.0f}"),
        ("preemptions", m["preemptions"]),
        ("KV cache per replica", f"{m['kv_capacity_tokens']:,} tokens"),
        ("peak KV-cache use", f"{result.timeline_frame()['kv_used_fraction'].max():.0%}"),
        ("mean requests in system", f"{m['mean_in_system']:,.1f}"),
        *_dollar_rows(m)])
    _print_engine(settings)
    say_priced_by(spec.system.device, spec.options)
    say_share(share)
    _warn_dropped(m["dropped_reasons"])
    return 0


def _dollars(spec, m: dict, gpus: int) -> dict:
    """The run's GPUs for an hour at its measured output rate: $/hour and $/1M output
    tokens (busy power, as plan-capacity prices an option)."""
    from simulator import summarize

    hour = 3600.0
    c = summarize(spec.system.device, hour, hour, m["output_tokens_per_s"] * hour,
                  spec.options.cost, devices=gpus)
    return {"gpus": gpus, "usd_per_hour": c.usd_per_hour,
            "usd_per_1m_output_tokens": c.usd_per_1m_tokens}


def _dollar_rows(m: dict) -> list[tuple[str, str]]:
    from archsim_cli.format import money

    return [(f"$/hour ({m['gpus']} GPUs)", money(m["usd_per_hour"])),
            ("$/1M output tokens at this rate", money(m["usd_per_1m_output_tokens"]))]


def _closed(args: argparse.Namespace) -> int:
    from simulator import (
        ClosedLoop,
        Pool,
        parse_length,
        serving_measured_share,
        simulate_closed_loop,
    )

    loop = ClosedLoop(args.concurrency, parse_length(args.input_len),
                      parse_length(args.output_len), requests=args.requests, seed=args.seed)
    spec, config, settings = _setup(args, args.tp)
    prefill = None
    if args.prefill_replicas:
        p_spec, p_config, _ = _setup(args, args.prefill_tp or args.tp)
        prefill = Pool(p_spec, args.prefill_replicas, p_config)
    result = simulate_closed_loop(loop, Pool(spec, args.replicas, config), prefill)
    if args.csv:
        _closed_frame(result).to_csv(args.csv, index=False)
    m = result.metrics()
    m = {**m, **_dollars(spec, m, m["gpus"])}
    done = result.measured
    share = share_of(spec.options, lambda: serving_measured_share(
        spec, result.state.prompt[done], result.state.out[done],
        min(loop.concurrency / args.replicas, config.max_seqs)))
    if args.json:
        m = {**m, **priced_by(spec.system.device, spec.options), **share_json(share)}
        print_json(m if settings is None else {**m, "engine": settings.as_dict()})
        return 0
    _print_latencies(f"{args.model} on {_pools(args)}{args.replicas} x {spec.label}, "
                     f"concurrency {loop.concurrency}: {m['measured_requests']} of "
                     f"{loop.total} requests measured (warm-up and drain left out)", m,
                     "e2e_latency")
    print_table("Throughput (the point on the tokens/s per GPU vs per user curve)",
                ["", "value"], [
                    ("output tokens/s per GPU", f"{m['output_tokens_per_s_per_gpu']:,.1f}"),
                    ("output tokens/s per user (1 / mean TPOT)",
                     f"{m['output_tokens_per_s_per_user']:,.1f}"),
                    ("output tokens/s", f"{m['output_tokens_per_s']:,.0f}"),
                    ("requests/s", f"{m['requests_per_s']:,.3f}"),
                    ("GPUs", m["gpus"]), ("preemptions", m["preemptions"]),
                    ("KV cache per replica", f"{m['kv_capacity_tokens']:,} tokens"),
                    *_dollar_rows(m)])
    _print_engine(settings)
    say_priced_by(spec.system.device, spec.options)
    say_share(share)
    _warn_dropped(result.dropped_reasons())
    return 0


def _pools(args) -> str:
    return f"{args.prefill_replicas} prefill + " if args.prefill_replicas else ""


def _print_latencies(title: str, m: dict, e2e: str) -> None:
    def ms(key: str) -> str:
        v = m.get(key)
        return "-" if v is None or v != v else f"{v * 1e3:,.2f} ms"

    rows = [(name, ms(f"{key}_mean_s"), ms(f"{key}_p50_s"), ms(f"{key}_p90_s"),
             ms(f"{key}_p99_s")) for name, key in
            (("time to first token", "ttft"), ("time per output token", "tpot"),
             ("end-to-end latency", e2e))]
    if "itl_mean_s" in m:
        rows.append(("inter-token latency", ms("itl_mean_s"), "", "", ""))
    print_table(title, ["latency", "mean", "p50", "p90", "p99"], rows)


def _print_engine(settings) -> None:
    if settings is not None:
        print_table(f"Engine preset: {settings.version} defaults (sources in its code)",
                    ["setting", "value", "source"], settings.table(), right_align_from=3)


def _warn_dropped(reasons: dict) -> None:
    for why, count in reasons.items():
        print(f"archsim: warning: {count} request(s) dropped: {why}", file=sys.stderr)


def _closed_frame(result):
    import numpy as np
    import pandas as pd

    s = result.state
    sent = np.isfinite(s.arrival_s)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = (s.finish_s - s.first_s) / np.where(s.out > 1, s.out - 1, np.nan)
    return pd.DataFrame({"sent_s": s.arrival_s, "input_len": s.prompt, "output_len": s.out,
                         "ttft_s": s.first_s - s.arrival_s, "tpot_s": tpot,
                         "e2e_s": s.finish_s - s.arrival_s, "measured": result.measured,
                         "preemptions": s.preemptions, "dropped": s.dropped})[sent]
