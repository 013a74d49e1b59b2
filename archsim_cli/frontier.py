"""`archsim plan-capacity --concurrency ...`: the concurrency sweep, printed, written as CSV and
drawn as the chart deployments are chosen from (tokens/s per GPU against per user)."""

from __future__ import annotations

import argparse
import math

from archsim_cli.format import money, print_json, print_table


def run_sweep(args: argparse.Namespace) -> int:
    from archsim_cli.args import cost_options_of, precision_specs
    from archsim_cli.serve import scheduler_overrides
    from simulator import FrontierQuery, Slo, concurrency_frontier, kernel_fields, parse_length

    tp_plan = None
    if args.model is not None:
        from workloads.config import tp_plan_of

        tp_plan = tp_plan_of(args.model)
    q = FrontierQuery(model=args.model, hardware=args.hw, tps=args.tp,
                      precisions=precision_specs(args),
                      concurrencies=args.concurrency, input_len=parse_length(args.input_len),
                      output_len=parse_length(args.output_len), engine=args.engine,
                      modes=("agg", "disagg") if args.disagg else ("agg",),
                      slo=Slo(args.slo_ttft_p99, args.slo_tpot_p99),
                      overrides=tuple(scheduler_overrides(args).items()),
                      cost=cost_options_of(args), tp_plan=tp_plan,
                      **kernel_fields(args.kernels))
    f = concurrency_frontier(q)
    frame = f.frame()
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.plot:
        write_plot(frame, args.plot, args.model, args.slo_tpot_p99)
    if args.json:
        print_json({"points": [p.as_dict() for p in f.points],
                    "pareto": [p.as_dict() for p in f.pareto],
                    "refused": [r.as_dict() for r in f.refused]})
        return 0 if f.points else 1
    slo = "" if args.slo_tpot_p99 is None else f", SLO line 1 / TPOT = {1 / args.slo_tpot_p99:.0f}"
    print_table(f"{args.model}: output tokens/s per GPU against per user over concurrency "
                f"(* Pareto front; SLO: p99 within the targets{slo})",
                ["option", "conc", "GPUs", "tok/s/GPU", "tok/s/user", "TTFT p99 ms",
                 "TPOT p99 ms", "$/1M out", "SLO", "P"],
                [(p.label, p.concurrency, p.gpus, f"{p.output_tokens_per_s_per_gpu:,.0f}",
                  f"{p.output_tokens_per_s_per_user:,.1f}", _ms(p.ttft_p99_s),
                  _ms(p.tpot_p99_s), money(p.usd_per_1m_output_tokens),
                  "ok" if p.meets_slo else "", "*" if p.pareto else "") for p in f.points],
                right_align_from=1)
    if f.refused:
        print_table("Refused", ["hardware", "mode", "TP", "dtype", "why"],
                    [(r.hardware, r.mode, r.tp, r.precision, r.reason) for r in f.refused])
    return 0 if f.points else 1


def _ms(s: float) -> str:
    return "-" if not math.isfinite(s) else f"{s * 1e3:,.1f}"


def write_plot(frame, path: str, model: str, slo_tpot_s: float | None) -> None:
    """Tokens/s per GPU against tokens/s per user, one line per option, the Pareto front and
    the SLO line, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    front = frame[frame["pareto"]].sort_values("output_tokens_per_s_per_user")
    ax.plot(front["output_tokens_per_s_per_user"], front["output_tokens_per_s_per_gpu"],
            color="0.6", lw=7, alpha=0.5, solid_capstyle="round", label="Pareto front")
    for label, part in frame.groupby("label", sort=False):
        part = part.sort_values("concurrency")
        ax.plot(part["output_tokens_per_s_per_user"], part["output_tokens_per_s_per_gpu"],
                marker="o", ms=3, lw=1, ls="--" if "+" in label else "-", label=label)
    if slo_tpot_s:
        ax.axvline(1 / slo_tpot_s, color="red", lw=1, ls=":",
                   label=f"SLO: TPOT {slo_tpot_s * 1e3:g} ms")
    ax.set_xlabel("output tokens/s per user (1 / mean TPOT)")
    ax.set_ylabel("output tokens/s per GPU")
    ax.set_title(f"{model}: concurrency sweep")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
