"""`archsim infer`: serve a request batch on a multi-GPU plan (or search plans)."""

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
    request_of,
    whole,
)
from archsim_cli.defaults import DEFAULT_SYSTEM
from archsim_cli.families import say_family_errors
from archsim_cli.format import gpus_on, money, print_json, print_search, print_table, search_json
from archsim_cli.measured_share import say_share, share_json, share_of
from archsim_cli.provenance import priced_by, say_priced_by


def register(sub) -> None:
    p = sub.add_parser("infer", help="time to first token, per output token and throughput "
                                     "of a batch on a parallel plan (--search: rank plans)")
    add_model(p)
    add_system(p, DEFAULT_SYSTEM)
    add_gpus(p, "tp x attn_dp x pp x dp")
    add_plan(p, training=False)
    p.add_argument("--batch", type=whole(), default=1, help="concurrent sequences per replica")
    p.add_argument("--input-len", type=whole(), default=1024)
    p.add_argument("--output-len", type=whole(), default=128)
    add_precision(p)
    add_pricing(p)
    add_kernels(p)
    add_search(p, "tp, pp, and ep and attention-DP for MoE")
    p.add_argument("--no-fuse", nargs="*", default=[], metavar="PASS",
                   help="lowering passes to switch off (e.g. mla_absorb: MLA decode re-expands "
                        "its latent cache as the Hugging Face code does)")
    add_json(p)
    p.set_defaults(run=_run)


def _workloads(args):
    from hwspecs.dtypes import DType
    from simulator import InferenceWorkloads, decode_context
    from workloads import get_workload

    off = tuple(args.no_fuse)
    prefill = get_workload(args.model, "prefill", batch=args.batch, seq=args.input_len,
                           dtype=DType.BF16, disabled_passes=off)
    decode = get_workload(args.model, "decode", batch=args.batch, seq=1,
                          context=decode_context(args.input_len, args.output_len),
                          dtype=DType.BF16, disabled_passes=off)
    return InferenceWorkloads(prefill, decode, decode, args.output_len)


def _run(args: argparse.Namespace) -> int:
    from simulator import Plan, request_measured_share, simulate_inference, system_for_gpus

    pp, pp_layers = pipeline_of(args)
    if not args.search:
        check_gpus(args.gpus, {"tp": args.tp, "attn_dp": args.attn_dp, "pp": pp,
                               "dp": args.dp})
    gpus = args.gpus or (None if args.search else args.tp * args.attn_dp * pp * args.dp)
    system = system_for_gpus(args.system, gpus)
    plan = None
    if not args.search:
        plan = Plan(tp=args.tp, pp=pp, dp=args.dp, ep=args.ep,
                    expert_imbalance=args.imbalance, attn_dp=args.attn_dp,
                    pp_layers=pp_layers)
        check_plan_first(args.model, plan, system.num_devices, args.input_len, training=False)
    ws = _workloads(args)
    options = request_of(args).options
    if args.search:
        return _search(args, ws, system, options)
    r = simulate_inference(ws, system, plan, options)
    share = share_of(options, lambda: request_measured_share(ws, system, plan, options))
    if args.json:
        print_json({**r.summary(), **priced_by(system.device, options),
                    **share_json(share)})
        return 0
    print_table(f"{r.model} serving on {gpus_on(r.gpus, r.system)}: {plan.serving_label()}, batch "
                f"{r.batch}, {r.input_len} in / {r.output_len} out", ["", "value"], [
                    ("time to first token", f"{r.ttft_s * 1e3:,.2f} ms"),
                    ("time per output token", f"{r.tpot_s * 1e3:,.3f} ms"),
                    ("end-to-end latency", f"{r.e2e_latency_s:,.3f} s"),
                    ("output tokens/s", f"{r.tokens_per_s:,.1f}"),
                    ("output tokens/s per GPU", f"{r.tokens_per_s_per_gpu:,.1f}"),
                    ("communication per decode step", f"{r.decode_comm_s * 1e3:,.3f} ms"),
                    ("memory per GPU", f"{r.memory_bytes_per_gpu / 1e9:,.1f} GB of "
                                       f"{r.footprint.capacity_bytes / 1e9:,.0f} GB"),
                    ("fits", "yes" if r.feasible else "NO (out of memory)"),
                    ("$ per 1M output tokens", money(r.cost.usd_per_1m_tokens)),
                    ("$ per 1M input tokens", money(r.prefill_cost.usd_per_1m_tokens))])
    say_priced_by(system.device, options)
    say_share(share)
    return 0



def _search(args, ws, system, options) -> int:
    from simulator import search_inference

    gpus = args.gpus or system.num_devices
    result = search_inference(ws, system, gpus, args.objective, options)
    if args.json:
        print_json(search_json(result, args.top))
        return 0
    rows = [(r.plan.serving_label(), f"{r.ttft_s * 1e3:,.1f} ms", f"{r.tpot_s * 1e3:,.2f} ms",
             f"{r.tokens_per_s_per_gpu:,.1f}", f"{r.memory_bytes_per_gpu / 1e9:,.1f}",
             money(r.cost.usd_per_1m_tokens), u.label())
            for r, u in zip(result.ranked[:args.top], result.uncertainty, strict=False)]
    print_search(f"{ws.prefill.model.name} on up to {gpus} x {system.device.name}: best plans "
                 f"by {result.objective} ({len(result.ranked)} feasible of "
                 f"{result.evaluated})",
                 ["plan", "TTFT", "TPOT", "tok/s/GPU", "GB/GPU", "$/1M out", "family err"],
                 rows, result)
    say_family_errors(result.uncertainty[:args.top])
    return 0
