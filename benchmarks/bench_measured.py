"""The measured backend (issue 18): how good the lookup is, and what it costs.

1. Leave-one-out error of the interpolation, per kernel class: each measured shape priced from
   the others of its table (target: median <= 5%), on every committed set and on any imported
   records folder given (e.g. a full, unsampled `archsim import aiconfigurator`).
2. Speed: the same inference plans and a 256-variant sweep point priced by the fitted model
   and with `--kernels measured` (target: measured at most 3x the model's time), and the
   one-time build of the grids.

Run: .venv/bin/python benchmarks/bench_measured.py [RECORDS_DIR ...]
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwspecs import load_device  # noqa: E402
from hwspecs.dtypes import DType  # noqa: E402
from simulator import (  # noqa: E402
    InferenceWorkloads,
    KernelSource,
    Options,
    Plan,
    Precision,
    Variants,
    device_metrics,
    measured_kernels,
    simulate_inference,
    system_for_gpus,
)
from simulator.core.measured_pricing import forget_lookups  # noqa: E402
from workloads import get_workload  # noqa: E402

DATA = ROOT / "validation" / "data"


def leave_one_out(folder: Path) -> list[tuple]:
    meta = json.loads((folder / "kernels-full.json").read_text())
    m = measured_kernels(meta["device_ref"], meta["engine"], folder)
    frame = m.leave_one_out()
    frame["error"] = (frame["interpolated_s"] / frame["measured_s"] - 1).abs()
    rows = []
    for cls, g in frame.groupby("kernel_class"):
        c = g[g["covered"]]
        rows.append((folder.name, cls, len(g), f"{len(c) / len(g):.0%}",
                     f"{c['error'].median():.1%}", f"{c['error'].quantile(0.9):.1%}"))
    return rows


def _plans():
    out = []
    for model in ("llama-3.1-8b", "llama-3.1-70b"):
        for batch in (1, 8, 32, 128):
            pre = get_workload(model, "prefill", batch=batch, seq=1024, dtype=DType.BF16)
            dec = get_workload(model, "decode", batch=batch, seq=1, context=1088,
                               dtype=DType.BF16)
            for tp in (1, 2, 4, 8):
                out.append((InferenceWorkloads(pre, dec, dec, 128), tp))
    return out


def _time(fn, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speed() -> list[tuple]:
    plans = _plans()
    model = Options(precision=Precision.parse("bf16"), engine="trtllm")
    measured = replace(model, kernels=KernelSource.MEASURED)
    systems = {tp: system_for_gpus("dgx-h100", tp) for tp in (1, 2, 4, 8)}

    def infer(options):
        def run():
            for ws, tp in plans:
                simulate_inference(ws, systems[tp], Plan(tp=tp), options)
        return run

    infer(model)()                      # traces and shards once, for both
    start = time.perf_counter()
    measured_kernels("h100-sxm", "trtllm")
    build_s = time.perf_counter() - start
    def first_lookup():
        forget_lookups()                # every kernel looked up for the first time
        infer(measured)()

    t_model = _time(infer(model))
    first = _time(first_lookup)
    t_measured = _time(infer(measured))
    t_model = min(t_model, _time(infer(model)))
    device = load_device("h100-sxm")
    w = get_workload("llama-3.1-70b", "decode", batch=32, seq=1, context=2048,
                     dtype=DType.BF16)
    rng = np.random.default_rng(0)
    variants = Variants.of([{"matrix": a, "mem_bw": b} for a, b in
                            rng.uniform(0.5, 2.0, size=(256, 2))])
    s_model = _time(lambda: device_metrics(w, device, model, variants))
    s_measured = _time(lambda: device_metrics(w, device, measured, variants))
    s_model = min(s_model, _time(lambda: device_metrics(w, device, model, variants)))
    return [("build the H100 trtllm grids (once per records state)", f"{build_s:.2f} s", "-",
             "-"),
            (f"infer: {len(plans)} plans (8B/70B, batch 1-128, TP 1-8), first lookup",
             f"{t_model * 1e3:,.0f} ms", f"{first * 1e3:,.0f} ms", f"{first / t_model:.2f}x"),
            (f"infer: the same {len(plans)} plans again (lookups kept per kernel set)",
             f"{t_model * 1e3:,.0f} ms", f"{t_measured * 1e3:,.0f} ms",
             f"{t_measured / t_model:.2f}x"),
            ("sweep point: 70B decode on 256 spec variants", f"{s_model * 1e3:,.1f} ms",
             f"{s_measured * 1e3:,.1f} ms", f"{s_measured / s_model:.2f}x")]


def _table(title: str, columns: list[str], rows: list[tuple]) -> None:
    print(f"\n{title}\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")


def main() -> None:
    folders = sorted(p.parent for p in DATA.glob("*/kernels-full.json")
                     if "cpu" not in p.parent.name)
    folders += [Path(a) for a in sys.argv[1:]]
    timings = speed()
    rows = [r for f in folders for r in leave_one_out(f)]
    _table("Leave-one-out error of the interpolation (|interpolated / measured - 1| over the "
           "shapes the rest covers)",
           ["records", "class", "shapes", "covered", "median", "p90"], rows)
    _table("Speed (best of 7, warm traces)", ["what", "model", "measured", "ratio"], timings)


if __name__ == "__main__":
    main()
