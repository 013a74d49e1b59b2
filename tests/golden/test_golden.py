"""The README's example commands give the numbers they gave before the refactor (issue 13).

Each command of `commands.COMMANDS` runs in-process with `--json`; its output must equal the
recorded one: the same keys (old ones mapped through `RENAMED`), the same strings, and numbers
equal to 1e-9 relative (a refactor may sum in another order; it may not change a result).
The sweep rows of the example grids are compared the same way.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from tests.golden.commands import COMMANDS, GRIDS, RENAMED
from tests.golden.record import run_json, sweep_frame

OUTPUTS = Path(__file__).resolve().parent / "outputs"
REL = 1e-9


def differences(old, new, where: str = "") -> list[str]:
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: was a mapping, now {type(new).__name__}"]
        out = []
        for key, value in old.items():
            new_key = next((n for n, o in RENAMED.items() if o == key and n in new), key)
            if new_key not in new:
                out.append(f"{where}.{key}: missing")
                continue
            out += differences(value, new[new_key], f"{where}.{key}")
        return out
    if isinstance(old, list):
        if not isinstance(new, list) or len(new) != len(old):
            return [f"{where}: list of {len(old)} became {new!r:.80}"]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in differences(a, b, f"{where}[{i}]")]
    if isinstance(old, bool) or old is None or isinstance(old, str):
        return [] if old == new else [f"{where}: {old!r} became {new!r}"]
    if isinstance(old, int | float):
        if isinstance(new, bool) or not isinstance(new, int | float):
            return [f"{where}: {old!r} became {new!r}"]
        if math.isclose(old, new, rel_tol=REL, abs_tol=1e-300):
            return []
        return [f"{where}: {old!r} became {new!r}"]
    return [] if old == new else [f"{where}: {old!r} became {new!r}"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_readme_command_gives_the_recorded_numbers(name):
    recorded = json.loads((OUTPUTS / f"{name}.json").read_text())
    code, data = run_json(COMMANDS[name])
    assert code == recorded["exit"]
    diff = differences(recorded["output"], data)
    assert not diff, f"{name}: " + "; ".join(diff[:10])


@pytest.mark.parametrize("grid", GRIDS)
def test_example_sweep_gives_the_recorded_rows(grid):
    import pandas as pd

    with gzip.open(OUTPUTS / f"{Path(grid).stem}.csv.gz", "rt") as f:
        old = pd.read_csv(f, keep_default_na=False, na_values=[""])
    new = sweep_frame(grid).reset_index(drop=True)
    assert len(new) == len(old)
    for column in old.columns:
        name = next((n for n, o in RENAMED.items() if o == column), column)
        assert name in new.columns, f"{grid}: column {column} is gone"
        a, b = old[column], new[name]
        if all(pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
               for x in (a, b)):
            bad = ~((a.isna() & b.isna())
                    | ((a - b).abs() <= REL * a.abs().clip(lower=1e-300)))
            assert not bad.any(), f"{grid}: {column} differs at rows {list(bad[bad].index[:5])}"
        else:
            text = [x.astype(object).where(x.notna(), "").astype(str).str.lower()
                    for x in (a, b)]
            assert (text[0] == text[1]).all(), f"{grid}: {column} differs"
