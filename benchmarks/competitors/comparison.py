"""The side-by-side table of bench_competitors.py: ratios to archsim, verdicts, printing.

Pure functions of the results dict {"job", "archsim", "genz", "llm-analysis"}, where each
tool's part holds `runner_protocol` cases (archsim's: "simulate_inference" and "sweep").
"""

from __future__ import annotations

# Required speed-up per prediction of each archsim row over each tool: a single
# `simulate_inference` call (issue 13) and a point of the vectorized sweep (issue 9).
TARGETS = {"archsim": {"llm-analysis": 5.0, "genz": 500.0},
           "archsim sweep": {"llm-analysis": 5.0, "genz": 100.0}}

ROWS = (("archsim", "simulate_inference"), ("archsim", "sweep"), ("genz", None),
        ("llm-analysis", None))
LABELS = {("archsim", "simulate_inference"): "archsim", ("archsim", "sweep"): "archsim sweep",
          ("genz", None): "GenZ", ("llm-analysis", None): "llm-analysis"}


def _by_name(cases: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in cases}


def tool_cases(results: dict, tool: str, path: str | None) -> dict[str, dict]:
    """One row kind's cases by name; an empty dict where the tool did not run."""
    part = results.get(tool) or {}
    cases = part.get(path) if path else part.get("cases")
    return _by_name(cases or [])


def _ratio(value: float | None, ref: float | None) -> float | None:
    return value / ref if value is not None and ref else None


def comparison(results: dict, names: list[str]) -> list[dict]:
    """One record per case and row kind: values in SI units and ratios to archsim's
    `simulate_inference` (time per prediction, prefill and decode latency)."""
    ref_cases = tool_cases(results, "archsim", "simulate_inference")
    out = []
    for name in names:
        ref = ref_cases.get(name, {})
        for tool, path in ROWS:
            case = tool_cases(results, tool, path).get(name)
            if case is None:
                why = (results.get(tool) or {}).get("error", "not run")
                case = {"name": name, "error": why}
            rec = {"case": name, "row": LABELS[(tool, path)], "tool": tool,
                   "error": case.get("error")}
            for key in ("time_per_prediction_s", "prefill_s", "decode_s"):
                rec[key] = case.get(key)
                rec[key[:-2] + "_vs_archsim"] = _ratio(case.get(key), ref.get(key))
            out.append(rec)
    return out


def verdicts(records: list[dict]) -> list[str]:
    """Whether each archsim row per prediction is TARGETS[row][tool] times faster, in every
    case both ran."""
    times = {(r["case"], r["row"]): r["time_per_prediction_s"] for r in records
             if r["time_per_prediction_s"] is not None}
    lines = []
    for ours in (LABELS[("archsim", "simulate_inference")], LABELS[("archsim", "sweep")]):
        for tool, target in TARGETS[ours].items():
            label = LABELS[(tool, None)]
            ratios = [times[(c, label)] / times[(c, ours)] for c, row in times
                      if row == label and (c, ours) in times]
            if not ratios:
                lines.append(f"{ours} vs {label}: no common measurement, so the {target:g}x "
                             "target is not assessed")
                continue
            worst = min(ratios)
            verdict = "meets" if worst >= target else "misses"
            lines.append(f"{label} takes {worst:,.3g}x to {max(ratios):,.3g}x the time of "
                         f"{ours} per prediction ({len(ratios)} cases): {ours} {verdict} the "
                         f"target of {target:g}x faster")
    return lines


def _ms(seconds: float | None, digits: int = 2) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.{digits}f} ms"


def _x(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:,.3g}x"


def table_rows(records: list[dict]) -> tuple[list[tuple], list[str]]:
    """The printed rows, and one footnote per distinct reason a row has no numbers."""
    rows, reasons = [], []
    for r in records:
        if r["error"]:
            why = f"{r['row']}: {r['error']}"
            if why not in reasons:
                reasons.append(why)
            rows.append((r["case"], r["row"], f"n/a [{reasons.index(why) + 1}]", "", "", "",
                         "", ""))
            continue
        t = r["time_per_prediction_s"]
        rows.append((r["case"], r["row"], "-" if t is None else f"{t * 1e6:,.1f} us",
                     _x(r["time_per_prediction_vs_archsim"]), _ms(r["prefill_s"]),
                     _x(r["prefill_vs_archsim"]), _ms(r["decode_s"], 3),
                     _x(r["decode_vs_archsim"])))
    return rows, [f"[{i + 1}] {why}" for i, why in enumerate(reasons)]


def print_report(results: dict, records: list[dict], notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    hw, first = results["job"]["hardware"], results["job"]["cases"][0]
    prompt, context = first["prompt_len"], first["context_len"]
    for line in notes:
        print(line)
    print(f"Same H100 figures to all: bf16 dense {hw['matrix_bf16_flops_per_s'] / 1e12:,.1f} "
          f"TFLOP/s, HBM {hw['mem_bw_bytes_per_s'] / 1e12:.2f} TB/s, "
          f"{hw['mem_capacity_bytes'] / 1e9:.0f} GB, NVLink "
          f"{hw['link_bw_bytes_per_s'] / 1e9:.0f} GB/s per direction; prompt {prompt} "
          f"tokens (TTFT), then one decode step at a {context}-token context (TPOT).")
    table = Table(title="Time per prediction (one case's TTFT + TPOT) and predicted latencies;"
                        " ratio = row / archsim", title_justify="left")
    for i, col in enumerate(("case", "tool", "time/prediction", "ratio", "TTFT", "ratio",
                             "TPOT", "ratio")):
        table.add_column(col, justify="right" if i >= 2 else "left", no_wrap=True)
    rows, footnotes = table_rows(records)
    for row in rows:
        table.add_row(*row)
    Console(width=140).print(table)
    n = next((c["variants"] for c in results["archsim"].get("sweep", []) if "variants" in c), 0)
    legend = ("archsim: one simulate_inference call on cached workloads; archsim sweep: "
              f"the sweep's vectorized pricing (one device for TP1, the plans path for "
              f"TP8) over {n} spec variants, prefill + decode, time / {n}")
    for line in [legend, *footnotes, "Default efficiency assumptions (none tuned):"]:
        print(line)
    for tool in ("archsim", "genz", "llm-analysis"):
        part = results.get(tool) or {}
        text = part.get("assumptions") or part.get("error", "not run")
        print(f"  {tool} {part.get('version', '')}".rstrip() + f": {text}")
    for line in verdicts(records):
        print(line)
