"""Speed of `archsim validate --published` (issue 19 target: <= 30 s cold on this machine).

Run: .venv/bin/python benchmarks/bench_published.py
Each case is the whole command in a fresh process: "cold" with an empty trace cache (every
published case's model traced), "warm" again with the cache it left. It also prints the widest
line of the command's tables (target: a 100-column terminal).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "archsim.py"), "validate", "--published"],
                          capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "ARCHSIM_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_OFFLINE": "1"}
        cold, out = _run(env)
        warm, _ = _run(env)
    widest = max(len(line) for line in out.splitlines())
    cases = sum(1 for line in out.splitlines() if line.startswith("│ ") and "_" in line[:40])
    print(f"{'case':60s} {'value':>9s} {'target':>8s}")
    print(f"{'validate --published, empty trace cache (cold), s':60s} {cold:9.1f} {30:8d}")
    print(f"{'validate --published, warm trace cache, s':60s} {warm:9.1f} {'':>8s}")
    print(f"{'widest line of its tables, characters':60s} {widest:9d} {100:8d}")
    print(f"{'case rows printed':60s} {cases:9d} {'':>8s}")
    print(f"(CPUs here: {os.cpu_count()}; the cases run on that many processes)")


if __name__ == "__main__":
    main()
