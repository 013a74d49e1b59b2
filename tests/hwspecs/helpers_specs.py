"""Shared bits for the spec tests: the shipped H100 SXM YAML as a dict, and writing variants."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

import hwspecs

H100_PATH = Path(hwspecs.__file__).resolve().parent / "devices" / "h100-sxm.yaml"


def h100_raw() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped H100 SXM spec."""
    return copy.deepcopy(_H100_RAW)


def write_spec(folder: Path, raw: Any, stem: str = "h100-sxm") -> Path:
    """Write `raw` as YAML to `folder/<stem>.yaml` (the stem must match `name` to load)."""
    path = Path(folder) / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def set_at(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `raw['a']['b']` for 'a.b', creating nothing on the way (a missing parent is a bug)."""
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    node[leaf] = value


def delete_at(raw: dict[str, Any], dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    del node[leaf]


_H100_RAW = yaml.safe_load(H100_PATH.read_text(encoding="utf-8"))
