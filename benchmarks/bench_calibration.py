"""Speed of GPU calibration (issue 14): importing one GPU folder of aiconfigurator's tables
(target <= 30 s), fitting it (`archsim calibrate`), and scoring it (`archsim validate`).

Run: .venv/bin/python benchmarks/bench_calibration.py [GPU folder]
(default ../shared/reference/measured/aiconfigurator/h100_sxm; the fit and the scoring run on
the shipped sample validation/data/h100-sxm-trtllm). Each step is the whole command in a fresh
process, as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT.parent / "shared" / "reference" / "measured" / "aiconfigurator" / "h100_sxm"


def _timed(*argv: str) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "archsim.py"), *argv], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    shipped = ROOT / "validation" / "data" / "h100-sxm-trtllm"
    rows = []
    with tempfile.TemporaryDirectory() as out:
        if folder.is_dir():
            rows.append((f"import aiconfigurator {folder.name} (every table, trtllm), s",
                         _timed("import", "aiconfigurator", str(folder), "--out", out,
                                "--no-progress"), "30"))
        else:
            rows.append((f"import: {folder} not found, skipped", float("nan"), "30"))
        rows.append(("calibrate the shipped h100-sxm-trtllm sample, s",
                     _timed("calibrate", str(shipped), "--out", str(Path(out) / "p.yaml"),
                            "--json"), ""))
    rows.append(("validate --measured the shipped h100-sxm-trtllm sample, s",
                 _timed("validate", "--measured", str(shipped), "--json"), ""))
    print(f"{'case':64s} {'value':>8s} {'target':>7s}")
    for name, value, target in rows:
        print(f"{name:64s} {value:8.1f} {target:>7s}")


if __name__ == "__main__":
    main()
