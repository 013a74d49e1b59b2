"""`archsim infer`: serve a request batch on a multi-GPU plan (or search plans)."""

from __future__ import annotations

import argparse

from archsim_cli.output import add_json_flag, print_json, print_table
from archsim_cli.train import money

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_SYSTEM = "dgx-h100"


def register(sub) -> None:
    p = sub.add_parser("infer", help="time to first token, per output token and throughput "
                                     "of a batch on a parallel plan (--search: rank plans)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="catalog name or config.json path")
    p.add_argument("--system", default=DEFAULT_SYSTEM, help="shipped system or device")
    p.add_argument("--gpus", type=int, default=None,
                   help="GPUs (default: tp x pp x dp; with --search, the system's)")
    for name in ("tp", "pp", "ep", "dp"):
        p.add_argument(f"--{name}", type=int, default=1)
    p.add_argument("--batch", type=int, default=1, help="concurrent sequences per replica")
    p.add_argument("--input-len", type=int, default=1024)
    p.add_argument("--output-len", type=int, default=128)
    p.add_argument("--dtype", default="bf16", help="compute precision: bf16, fp16, fp8...")
    p.add_argument("--weights-dtype", default=None, help="override weights alone (int8, int4)")
    p.add_argument("--kv-dtype", default=None, help="override the KV cache alone (e.g. fp8)")
    p.add_argument("--imbalance", type=float, default=1.0, help="MoE load imbalance factor")
    p.add_argument("--ideal", action="store_true", help="speed of light: no losses")
    p.add_argument("--pricing", choices=["rent", "tco"], default="rent")
    p.add_argument("--search", action="store_true", help="search tp, pp (and ep for MoE)")
    p.add_argument("--objective", choices=["throughput", "cost"], default="throughput")
    p.add_argument("--top", type=int, default=10)
    add_json_flag(p)
    p.set_defaults(run=_run)


def _workloads(args):
    from hwspecs.dtypes import DType
    from simulator import InferenceWorkloads, decode_context
    from workloads import get_workload

    prefill = get_workload(args.model, "prefill", batch=args.batch, seq=args.input_len,
                           dtype=DType.BF16)
    decode = get_workload(args.model, "decode", batch=args.batch, seq=1,
                          context=decode_context(args.input_len, args.output_len),
                          dtype=DType.BF16)
    return InferenceWorkloads(prefill, decode, decode, args.output_len)


def _options(args):
    from simulator import CostOptions, Options, Precision
    from workloads.config import tp_plan_of

    return Options(precision=Precision.parse(args.dtype, weights=args.weights_dtype,
                                                  kv=args.kv_dtype),
                        ideal=args.ideal, cost=CostOptions(pricing=args.pricing),
                        tp_plan=tp_plan_of(args.model))


def _run(args: argparse.Namespace) -> int:
    from simulator import Plan, simulate_inference, system_for_gpus

    gpus = args.gpus or (None if args.search else args.tp * args.pp * args.dp)
    system = system_for_gpus(args.system, gpus)
    ws = _workloads(args)
    if args.search:
        return _search(args, ws, system)
    plan = Plan(tp=args.tp, pp=args.pp, dp=args.dp, ep=args.ep,
                expert_imbalance=args.imbalance)
    report = simulate_inference(ws, system, plan, _options(args))
    if args.json:
        print_json(report.summary())
        return 0
    r = report
    print_table(f"{r.model} serving on {r.gpus} x {r.system}: {plan.serving_label()}, batch "
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
    return 0


def _search(args, ws, system) -> int:
    from simulator import search_inference

    gpus = args.gpus or system.num_devices
    result = search_inference(ws, system, gpus, args.objective, _options(args))
    if args.json:
        print_json({"objective": result.objective, "evaluated": result.evaluated,
                    "feasible": len(result.ranked),
                    "ranked": [r.summary() for r in result.ranked[:args.top]],
                    "refused": [{"kind": k, "count": n, "example": why}
                                for k, n, why in result.refusal_counts()]})
        return 0
    rows = [(i + 1, r.plan.serving_label(), f"{r.ttft_s * 1e3:,.1f} ms",
             f"{r.tpot_s * 1e3:,.2f} ms",
             f"{r.tokens_per_s_per_gpu:,.1f}", f"{r.memory_bytes_per_gpu / 1e9:,.1f}",
             money(r.cost.usd_per_1m_tokens))
            for i, r in enumerate(result.ranked[:args.top])]
    print_table(f"{ws.prefill.model.name} on up to {gpus} x {system.device.name}: best plans by "
                f"{result.objective} ({len(result.ranked)} feasible of {result.evaluated})",
                ["#", "plan", "TTFT", "TPOT", "tok/s/GPU", "GB/GPU", "$/1M out"], rows,
                right_align_from=2)
    print_table("Refused plans", ["reason", "plans", "example"],
                [(k, n, why) for k, n, why in result.refusal_counts()])
    return 0
