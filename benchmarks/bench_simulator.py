"""Speed of the single-device simulator (issue 4 targets), printed as a table.

Run: .venv/bin/python benchmarks/bench_simulator.py   (or ./dev and then this script)
Targets on a 2-core machine: import simulator <= 0.5 s; one simulate on a cached workload
<= 5 ms; one workload on all shipped devices <= 20 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def _import_time_s(repeats: int = 5) -> float:
    code = ("import time; t = time.perf_counter(); from simulator import simulate; import hwspecs; "
            "print(time.perf_counter() - t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def _median_time_s(fn, repeats: int) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    from hwspecs import load_all_devices, load_device
    from simulator import compare, simulate
    from workloads import get_workload

    devices = load_all_devices()
    h100 = load_device("h100-sxm")
    rows = [("import simulator", _import_time_s(), 0.5)]
    for model, phase, seq, ctx in (("llama-2-7b", "prefill", 2048, 0),
                                   ("llama-2-7b", "decode", 1, 2048),
                                   ("llama-3.1-70b", "prefill", 2048, 0)):
        w = get_workload(model, phase, batch=1, seq=seq, context=ctx)
        # A fresh workload object each time would re-build its arrays; a cached one does not.
        rows.append((f"simulate {model} {phase} ({len(w.ops)} ops)",
                     _median_time_s(lambda w=w: simulate(w, h100), 30), 0.005))
        rows.append((f"compare {model} {phase} on {len(devices)} devices",
                     _median_time_s(lambda w=w: compare(w, devices), 10), 0.020))
    print(f"{'case':60s} {'median':>10s} {'target':>10s}")
    for name, seconds, target in rows:
        flag = "" if seconds <= target else "  (over target)"
        print(f"{name:60s} {seconds * 1e3:8.2f} ms {target * 1e3:8.1f} ms{flag}")


if __name__ == "__main__":
    main()
