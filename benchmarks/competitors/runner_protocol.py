"""What a competitor runner reads and prints, and how it times one prediction (stdlib only).

A runner runs under the competitor's own virtual environment, never imports archsim, and is
started as `<venv>/bin/python <runner>.py` with a JSON job on stdin:
    {"hardware": {...H100 figures in SI units...},
     "cases": [{"name", "model": {...shapes...}, "tp", "batch", "prompt_len", "context_len"}],
     "repeats": N, "budget_s": seconds per case}
It prints one JSON object on stdout:
    {"tool", "version", "assumptions", "cases": [{"name", "prefill_s", "decode_s",
     "time_per_prediction_s", "repeats"} or {"name", "error"}]}
One prediction is one case's prefill latency and per-token decode latency, from a cold call
of the tool's public API (whatever it caches between calls, it may keep).
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import sys
import time
from collections.abc import Callable

MIN_REPEATS = 5


def median_time_s(fn: Callable[[], object], repeats: int, budget_s: float
                  ) -> tuple[float, int]:
    """Median wall time of `fn` after one warm-up call; stops early once `budget_s` is spent
    and at least MIN_REPEATS runs are in (a slow tool would otherwise take minutes)."""
    fn()
    runs: list[float] = []
    spent = 0.0
    while len(runs) < repeats:
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
        spent += runs[-1]
        if spent > budget_s and len(runs) >= MIN_REPEATS:
            break
    return statistics.median(runs), len(runs)


def run_case(predict: Callable[[dict, dict], tuple[float, float]], hw: dict, case: dict,
             repeats: int, budget_s: float) -> dict:
    """One case's predicted latencies and its time per prediction, or the tool's error."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            prefill_s, decode_s = predict(hw, case)
            seconds, done = median_time_s(lambda: predict(hw, case), repeats, budget_s)
    except Exception as e:  # noqa: BLE001 - a tool's failure is a result, reported per case
        return {"name": case["name"], "error": f"{type(e).__name__}: {e}"[:300]}
    return {"name": case["name"], "prefill_s": prefill_s, "decode_s": decode_s,
            "time_per_prediction_s": seconds, "repeats": done}


def serve(tool: str, version: str, assumptions: str,
          predict: Callable[[dict, dict], tuple[float, float]]) -> None:
    """Read the job from stdin, run every case, print the result as JSON on stdout."""
    job = json.load(sys.stdin)
    cases = [run_case(predict, job["hardware"], c, int(job["repeats"]), float(job["budget_s"]))
             for c in job["cases"]]
    json.dump({"tool": tool, "version": version, "assumptions": assumptions, "cases": cases},
              sys.stdout)
    sys.stdout.write("\n")
