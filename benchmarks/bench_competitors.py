"""archsim side by side with GenZ and llm-analysis (issue 9): speed and predicted latencies.

Run: .venv/bin/python benchmarks/bench_competitors.py [--venvs DIR] [--repeats N] [--json PATH]
Each competitor runs in its own virtual environment (llm-analysis pins an old transformers),
made once under `$ARCHSIM_CACHE_DIR/bench-venvs/<tool>` and reused. All three get the same H100
figures from archsim's shipped spec (dense bf16 matrix peak, HBM bandwidth and capacity, NVLink
bandwidth per direction) and the same model shapes from archsim's catalog. Each tool keeps its
own default efficiencies (printed), nothing is tuned to agree.
Targets on a 2-core machine, measured in the same run: one `simulate_inference` call >= 5x
faster than llm-analysis and >= 500x faster than GenZ; a sweep point >= 5x and >= 100x.
Layout: competitors/<tool>_runner.py runs under the tool's venv python and speaks
competitors/runner_protocol.py (JSON job on stdin, JSON results on stdout); archsim is timed
in this process; competitors/comparison.py makes the ratios, verdicts and the printed table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNERS = HERE / "competitors"
sys.path[:0] = [str(HERE.parent), str(RUNNERS)]

from comparison import comparison, print_report, verdicts  # noqa: E402

DEVICE = "h100-sxm"
PROMPT_LEN = 2048
OUTPUT_LEN = 2          # one decode step, with a cache of PROMPT_LEN tokens
# (catalog model, TP, batch)
CASES = (("llama-2-7b", 1, 1), ("llama-2-70b", 8, 1), ("llama-2-7b", 1, 16),
         ("llama-2-70b", 8, 16))
TORCH_PIN = "torch==2.13.0"   # the CPU wheel; an unpinned torch pulls a multi-GB CUDA build
# Neither pinned release depends on torch (pip resolves both without it).
TOOLS = {
    # tool: (pinned requirement, needs torch, runner script)
    "genz": ("genz-llm==0.0.16", False, "genz_runner.py"),
    "llm-analysis": ("llm-analysis==0.2.2", False, "llm_analysis_runner.py"),
}
SWEEP_VARIANTS = {"matrix": [0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16],
                  "mem_bw": [0.5, 0.75, 1, 1.25, 1.5, 2, 3, 4, 6, 8],
                  "mem_capacity": [0.5, 1, 2, 4]}
_INSTALLED = ".archsim-installed"


# ---- the job every tool gets -------------------------------------------------------------

def hardware_figures(device) -> dict:
    """The H100 figures handed to every tool, in SI units (NVLink latency: what archsim uses,
    0 where the spec has no published figure)."""
    from hwspecs.dtypes import DType

    up = device.scale_up
    return {"name": device.name,
            "matrix_bf16_flops_per_s": device.matrix_peak(DType.BF16),
            "mem_bw_bytes_per_s": device.mem_bw_bytes_per_s,
            "mem_capacity_bytes": device.mem_capacity_bytes,
            "link_bw_bytes_per_s": up.bw_bytes_per_s if up else 0.0,
            "link_latency_s": up.latency_s if up else 0.0,
            "devices_per_node": up.domain_size if up else 1}


def model_shapes(config: dict, name: str) -> dict:
    """The shapes of a decoder-only model from its HF config.json fields."""
    heads = int(config["num_attention_heads"])
    return {"name": name, "hidden_size": int(config["hidden_size"]),
            "intermediate_size": int(config["intermediate_size"]),
            "layers": int(config["num_hidden_layers"]), "heads": heads,
            "kv_heads": int(config.get("num_key_value_heads") or heads),
            "vocab_size": int(config["vocab_size"]),
            "max_position_embeddings": int(config.get("max_position_embeddings") or 0),
            "tied_embeddings": bool(config.get("tie_word_embeddings", False)),
            "gated_mlp": config.get("hidden_act") in ("silu", "swiglu", "gelu_pytorch_tanh")}


def case_name(model: str, tp: int, batch: int) -> str:
    return f"{model} TP{tp} batch {batch}"


def build_job(hardware: dict, configs: dict[str, dict], cases=CASES, repeats: int = 100,
              budget_s: float = 20.0) -> dict:
    """The JSON job of `runner_protocol`: same figures, shapes and cases for every tool."""
    if repeats < 1:
        raise ValueError(f"--repeats must be at least 1, not {repeats}")
    return {"hardware": hardware, "repeats": repeats, "budget_s": budget_s,
            "cases": [{"name": case_name(m, tp, b), "model": model_shapes(configs[m], m),
                       "tp": tp, "batch": b, "prompt_len": PROMPT_LEN,
                       "context_len": PROMPT_LEN} for m, tp, b in cases]}


# ---- the virtual environments ------------------------------------------------------------

def venv_root(override: str | None = None) -> Path:
    """--venvs, else `$ARCHSIM_CACHE_DIR/bench-venvs` (the project's cache folder)."""
    if override:
        return Path(override).expanduser()
    from workloads.trace.cache import cache_dir

    return cache_dir() / "bench-venvs"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_ready(venv: Path, requirement: str) -> bool:
    """Made and installed by an earlier run with this very pin."""
    marker = venv / _INSTALLED
    return venv_python(venv).is_file() and marker.is_file() \
        and marker.read_text().strip() == requirement


def ensure_venv(tool: str, root: Path) -> tuple[Path | None, str]:
    """The tool's venv python, made and installed once; (None, why) when that fails."""
    requirement, needs_torch, _ = TOOLS[tool]
    venv = root / tool
    if venv_ready(venv, requirement):
        return venv_python(venv), f"{tool}: reused {venv}"
    py = venv_python(venv)
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)]]
    if needs_torch:
        steps.append([str(py), "-m", "pip", "install", "--quiet", TORCH_PIN])
    steps.append([str(py), "-m", "pip", "install", "--quiet", requirement])
    start = time.perf_counter()
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return None, (f"{tool}: could not install {requirement} into {venv} ({last}); "
                          "its rows are left out")
    (venv / _INSTALLED).write_text(requirement + "\n")
    return py, f"{tool}: installed {requirement} in {venv} ({time.perf_counter() - start:.0f} s)"


def run_runner(python: Path, script: Path, job: dict, timeout_s: float = 1800) -> dict:
    """Run one competitor's runner on the job; its JSON result, or {"error": why}."""
    try:
        done = subprocess.run([str(python), str(script)], input=json.dumps(job),
                              capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "HF_HUB_OFFLINE": "1",
                                   "TRANSFORMERS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"error": f"{script.name} ran past {timeout_s:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{script.name} failed (exit {done.returncode}): {last}"}
    return json.loads(lines[-1])


# ---- archsim, in this process ------------------------------------------------------------

def _median_s(fn, repeats: int) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def _archsim_inputs(model: str, tp: int, batch: int):
    """The workloads, system, plan and options `archsim infer` builds for this case."""
    from hwspecs.dtypes import DType
    from simulator import (
        InferenceWorkloads,
        Options,
        Plan,
        Precision,
        decode_context,
        system_for_gpus,
    )
    from workloads import get_workload
    from workloads.config import tp_plan_of

    prefill = get_workload(model, "prefill", batch=batch, seq=PROMPT_LEN, dtype=DType.BF16)
    decode = get_workload(model, "decode", batch=batch, seq=1,
                          context=decode_context(PROMPT_LEN, OUTPUT_LEN), dtype=DType.BF16)
    ws = InferenceWorkloads(prefill, decode, decode, OUTPUT_LEN)
    options = Options(precision=Precision.parse("bf16"), tp_plan=tp_plan_of(model))
    return ws, system_for_gpus(DEVICE, tp), Plan(tp=tp), options


def _variants() -> tuple[list[dict[str, float]], int]:
    """Every spec variant of SWEEP_VARIANTS, and the index of the unscaled one."""
    import itertools

    variants = [dict(zip(SWEEP_VARIANTS, v, strict=True))
                for v in itertools.product(*SWEEP_VARIANTS.values())]
    return variants, variants.index({k: 1 for k in SWEEP_VARIANTS})


def _sweep_per_point(ws, device, repeats: int) -> tuple[float, float, float, int]:
    """The pricing core over spec variants (`device_metrics`, one device, no TP) on prefill +
    decode of every variant: seconds per point and the unscaled variant's prefill and decode
    times."""
    from simulator import Options, Precision, Variants, device_metrics

    variants, base = _variants()
    stack = Variants.of(variants)
    options = Options(precision=Precision.parse("bf16"))
    pre, dec = ws.prefill, ws.decode_start

    def both():
        return (device_metrics(pre, device, options, stack),
                device_metrics(dec, device, options, stack))

    p, d = both()
    seconds = _median_s(both, repeats)
    return seconds / len(variants), float(p.time_s[base]), float(d.time_s[base]), len(variants)


def _plan_sweep_per_point(model: str, tp: int, batch: int, ws, repeats: int
                          ) -> tuple[float, float, float, int]:
    """The sweep's plans path (`sweep_plans.PlanPoints`, a TP plan on the device's system) on
    prefill + decode of every variant: seconds per point and the unscaled variant's times."""

    from simulator import Options, Precision, Variants, grid_from_dict
    from simulator.sweep.plans import PlanPoints

    variants, base = _variants()
    options = [Options(precision=Precision.parse("bf16"))]
    phases = []
    for phase, w in (("prefill", ws.prefill), ("decode", ws.decode_start)):
        grid = grid_from_dict({"models": [model], "phases": [phase], "batch": [batch],
                               "seq": [PROMPT_LEN], "context": [max(w.context, 1)],
                               "devices": [DEVICE], "plans": [{"tp": tp}],
                               "variants": SWEEP_VARIANTS})
        points = PlanPoints(grid, grid.chunks()[0], w, Variants.of(variants))
        phases.append((points, grid.plans[0]))

    def both():
        return [p.points(DEVICE, item, options)[2][0] for p, item in phases]

    (pre, pre_error), (dec, dec_error) = both()
    if pre_error or dec_error:
        raise ValueError(pre_error or dec_error)
    seconds = _median_s(both, repeats)
    return seconds / len(variants), float(pre.time_s[base]), float(dec.time_s[base]), \
        len(variants)


def archsim_results(cases=CASES, repeats: int = 100) -> dict:
    """Both archsim rows per case: one `simulate_inference` call and the sweep path per point.
    Traces are built (or read from the cache) before any timing."""
    from hwspecs import load_device
    from simulator import simulate_inference

    device = load_device(DEVICE)
    inputs = {c: _archsim_inputs(*c) for c in cases}   # warms the trace cache, not timed
    out = {"simulate_inference": [], "sweep": []}
    for (model, tp, batch), (ws, system, plan, options) in inputs.items():
        name = case_name(model, tp, batch)
        report = simulate_inference(ws, system, plan, options)
        seconds = _median_s(lambda a=(ws, system, plan, options): simulate_inference(*a),
                            repeats)
        out["simulate_inference"].append({"name": name, "prefill_s": report.ttft_s,
                                          "decode_s": report.tpot_s,
                                          "time_per_prediction_s": seconds,
                                          "repeats": repeats})
        if tp == 1:
            per_point, pre_s, dec_s, n = _sweep_per_point(ws, device, max(5, repeats // 10))
        else:
            per_point, pre_s, dec_s, n = _plan_sweep_per_point(model, tp, batch, ws,
                                                               max(5, repeats // 10))
        out["sweep"].append({"name": name, "prefill_s": pre_s, "decode_s": dec_s,
                             "time_per_prediction_s": per_point, "variants": n})
    return out


def archsim_assumptions(device) -> str:
    from simulator import profile_for

    p, d = profile_for(device), device.defaults
    where = "fitted profile" if p.fitted else "spec defaults, no fitted H100 profile"
    return (f"matrix {p.matrix_fraction:g} x shape-dependent GEMM efficiency (tiles, waves, "
            f"K ramp), attention {p.attention_fraction:g}, HBM {p.memory_fraction:g} (ramp "
            f"for small transfers), {p.kernel_overhead_s * 1e6:g} us per kernel, NVLink "
            f"{d.scale_up_fraction:g} ({where})")


def _configs(cases) -> dict[str, dict]:
    from workloads.config import find_config

    return {m: dict(find_config(m).data) for m, _, _ in cases}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venvs", default=None, help="folder of the tools' virtual environments "
                                                 "(default $ARCHSIM_CACHE_DIR/bench-venvs)")
    p.add_argument("--repeats", type=int, default=100, help="timed predictions per case")
    p.add_argument("--budget-s", type=float, default=20.0,
                   help="a competitor stops timing a case after this many seconds (>= 5 runs)")
    p.add_argument("--json", default=None, help="also write every number to this JSON file")
    args = p.parse_args(argv)
    from hwspecs import load_device

    device = load_device(DEVICE)
    job = build_job(hardware_figures(device), _configs(CASES), CASES, args.repeats,
                    args.budget_s)
    results: dict = {"job": job}
    arch = archsim_results(CASES, args.repeats)
    results["archsim"] = {**arch, "assumptions": archsim_assumptions(device), "version": ""}
    notes, root = [], venv_root(args.venvs)
    for tool, (_, _, script) in TOOLS.items():
        python, note = ensure_venv(tool, root)
        notes.append(note)
        results[tool] = run_runner(python, RUNNERS / script, job) if python \
            else {"error": "not installed"}
    names = [c["name"] for c in job["cases"]]
    records = comparison(results, names)
    print_report(results, records, notes)
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "comparison": records,
                                               "verdicts": verdicts(records)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
