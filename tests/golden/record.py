"""Record the golden outputs: `python tests/golden/record.py` (run from the repository root).

Writes tests/golden/outputs/<name>.json for every command in `commands.COMMANDS` and
<grid>.csv.gz for every grid in `commands.GRIDS`. Only for a deliberate change of results:
the golden test exists so that a refactor changes none.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from commands import COMMANDS, DROP, GRIDS  # noqa: E402


def run_json(args: list[str]):
    from archsim import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*args, "--json"])
    data = json.loads(out.getvalue())
    return code, drop(data)


def drop(value):
    if isinstance(value, dict):
        return {k: drop(v) for k, v in value.items() if k not in DROP}
    if isinstance(value, list):
        return [drop(v) for v in value]
    return value


def sweep_frame(grid: str):
    from simulator.sweep.run import load_grid, run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        run = run_sweep(load_grid(ROOT / "examples" / grid), Path(tmp) / "out.parquet",
                        workers=1, progress=False)
        return run.frame


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = HERE / "outputs"
    out.mkdir(exist_ok=True)
    for name, args in COMMANDS.items():
        code, data = run_json(args)
        (out / f"{name}.json").write_text(json.dumps({"exit": code, "output": data},
                                                     indent=1, sort_keys=True) + "\n")
        print(name, code, flush=True)
    for grid in GRIDS:
        frame = sweep_frame(grid)
        frame.to_csv(out / f"{Path(grid).stem}.csv.gz", index=False, float_format="%.17g")
        print(grid, len(frame), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
