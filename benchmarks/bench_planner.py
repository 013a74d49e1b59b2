"""Speed of the plan search (issue 6 target): a 70B model on 64 GPUs, every TP/PP/DP/ZeRO/
micro-batch combination (and sequence parallelism and the three recompute policies), <= 2 s.

Run: .venv/bin/python benchmarks/bench_planner.py [model] [system]
The trace is made (or loaded from cache) first and timed apart; the search time covers
`prepare` (arrays, roles) and pricing every plan.
"""

from __future__ import annotations

import sys
import time

TARGET_S = 2.0


def main() -> None:
    from hwspecs import load_system
    from simulator import prepare, search_training
    from workloads import get_workload

    model = sys.argv[1] if len(sys.argv) > 1 else "llama-3.1-70b"
    system = load_system(sys.argv[2] if len(sys.argv) > 2 else "dgx-h100:nodes=8")
    t = time.perf_counter()
    workload = get_workload(model, "train", batch=1, seq=4096)
    trace_s = time.perf_counter() - t
    t = time.perf_counter()
    result = search_training(prepare(workload, system), gpus=64, global_batch=512)
    search_s = time.perf_counter() - t
    best = result.ranked[0] if result.ranked else None
    print(f"trace {model} train step ({len(workload.ops)} kernels): {trace_s:.2f} s")
    print(f"plan search on 64 x {system.device.name}: {result.evaluated} plans, "
          f"{len(result.ranked)} feasible, {search_s:.3f} s (target {TARGET_S:.1f} s)"
          + ("" if search_s <= TARGET_S else "  (over target)"))
    if best is not None:
        print(f"best: {best.plan.label()}: {best.tokens_per_s:,.0f} tokens/s, MFU "
              f"{best.mfu:.1%}, {best.memory_bytes_per_gpu / 1e9:.1f} GB per GPU")


if __name__ == "__main__":
    main()
