"""Printing for every command: rich tables for people, JSON (SI units) for programs."""

from __future__ import annotations

import enum
import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any


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
        return value.item()
    return value


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


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON (SI units, keys named with the unit)")
