"""Printing for every command: rich tables for people, JSON (SI units) for programs, and the
few ways of writing a number or a table more than one command prints."""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from hwspecs.units import fmt_seconds as seconds  # noqa: F401 (one way to write seconds)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _plain(value.item())
    return value


def gpus_on(gpus: int, system: str) -> str:
    """'4 x h100-sxm' for a device scaled to 4 (its system is named 'h100-sxmx4'), '64 GPUs of
    dgx-h100x8' for nodes of a shipped system."""
    import re

    from hwspecs import device_names

    devices = device_names()
    m = re.fullmatch(r"(.+?)x(\d+)", system)
    if system in devices:
        return f"{gpus} x {system}"
    if m and m.group(1) in devices:
        return f"{gpus} x {m.group(1)}"
    return f"{gpus} GPUs of {system}"


def print_json(obj: Any) -> None:
    json.dump(_plain(obj), sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                right_align_from: int = 1) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="right" if i >= right_align_from else "left")
    for row in rows:
        table.add_row(*(str(c) for c in row))
    Console(width=max(100, len(columns) * 14)).print(table)


def money(x: float | None) -> str:
    """Dollars: cents above $100, four decimals below (per-token prices are small)."""
    if x is None:
        return "-"
    return f"${x:,.2f}" if x >= 100 else f"${x:,.4f}"


def gb(x: float, digits: int = 2) -> str:
    return f"{x / 1e9:,.{digits}f}"


_FOOTPRINT_PARTS = (("weights", "weights_bytes"), ("KV cache", "kv_cache_bytes"),
                    ("activations", "activation_bytes"), ("gradients", "gradient_bytes"),
                    ("optimizer states", "optimizer_bytes"))


def print_memory(footprint, title: str, skip_zero: bool = False) -> None:
    """The memory table of a footprint: each part, the total, the capacity."""
    parts = [(name, getattr(footprint, key)) for name, key in _FOOTPRINT_PARTS]
    rows = [(name, gb(v)) for name, v in parts if v or not skip_zero]
    rows += [("total", gb(footprint.total_bytes)), ("capacity", gb(footprint.capacity_bytes))]
    print_table(title, ["part", "GB"], rows)


def search_json(result, top: int) -> dict:
    """A plan search's JSON: the ranked plans shown and why the others were refused."""
    return {"objective": result.objective, "evaluated": result.evaluated,
            "feasible": len(result.ranked),
            "ranked": [{**r.summary(), "family_error": u.as_dict()}
                       for r, u in zip(result.ranked[:top], result.uncertainty[:top],
                                       strict=True)],
            "refused": [{"kind": k, "count": n, "example": why}
                        for k, n, why in result.refusal_counts()]}


def print_search(title: str, columns: Sequence[str], rows: list[Sequence[Any]],
                 result) -> None:
    """A plan search's ranked table, then the refused plans by reason."""
    print_table(title, ["#", *columns], [(i + 1, *row) for i, row in enumerate(rows)],
                right_align_from=2)
    hidden = len(result.ranked) - len(rows)
    if hidden > 0:
        print(f"{hidden:,} more feasible plan(s) not shown (--top N shows more; --json lists "
              "the top N too)")
    print_table("Refused plans", ["reason", "plans", "example"],
                [(k, n, why) for k, n, why in result.refusal_counts()])
