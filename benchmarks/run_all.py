"""Every benchmark in one command, each printing its own table.

Run: .venv/bin/python benchmarks/run_all.py   (numbers are kept in the README)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = ("bench_workloads.py", "bench_simulator.py", "bench_planner.py", "bench_serving.py",
           "bench_sweep.py", "bench_published.py", "bench_serving_validation.py",
           "bench_competitors.py", "bench_calibration.py")


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = 0
    for script in SCRIPTS:
        print(f"\n== {script}", flush=True)
        failed += subprocess.run([sys.executable, str(here / script)]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
