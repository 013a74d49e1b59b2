"""Totals and breakdowns of a lowered workload (by kernel kind, by layer), and its op table.

What `archsim trace` prints and exports; plain numbers in SI units (FLOP, bytes).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workloads.op import Op, TensorRole, Workload


@dataclass(frozen=True)
class Breakdown:
    """One row of a breakdown: a kernel kind, or a layer (-1: outside the layer stack)."""

    key: str
    num_ops: int
    flops: float
    read_bytes: float
    write_bytes: float


@dataclass(frozen=True)
class Summary:
    flops: float
    read_bytes: float
    write_bytes: float
    num_ops: int
    params: int
    by_kind: tuple[Breakdown, ...]
    by_layer: tuple[Breakdown, ...]
    read_bytes_by_role: dict[str, float]
    write_bytes_by_role: dict[str, float]


def _rows(groups: dict[Any, list[Op]], name) -> tuple[Breakdown, ...]:
    return tuple(Breakdown(name(k), len(ops), sum(o.flops for o in ops),
                           sum(o.total_read_bytes for o in ops),
                           sum(o.total_write_bytes for o in ops))
                 for k, ops in groups.items())


def summarize(w: Workload) -> Summary:
    by_kind: dict[Any, list[Op]] = {}
    by_layer: dict[int, list[Op]] = {}
    reads = {r.value: 0.0 for r in TensorRole}
    writes = {r.value: 0.0 for r in TensorRole}
    for op in w.ops:
        by_kind.setdefault(op.kind, []).append(op)
        by_layer.setdefault(op.layer, []).append(op)
        for role, b in op.read_bytes.items():
            reads[role.value] += b
        for role, b in op.write_bytes.items():
            writes[role.value] += b
    kinds = sorted(by_kind, key=lambda k: -sum(o.flops for o in by_kind[k]))
    layers = sorted(by_layer)
    return Summary(
        flops=w.flops, read_bytes=sum(reads.values()), write_bytes=sum(writes.values()),
        num_ops=len(w.ops), params=w.model.params,
        by_kind=_rows({k: by_kind[k] for k in kinds}, lambda k: k.value),
        by_layer=_rows({k: by_layer[k] for k in layers},
                       lambda k: "outside" if k < 0 else str(k)),
        read_bytes_by_role={k: v for k, v in reads.items() if v},
        write_bytes_by_role={k: v for k, v in writes.items() if v})


OP_COLUMNS = ("index", "name", "kind", "pass", "layer", "module", "flops", "read_bytes",
              "write_bytes", "compute_dtype") + tuple(
    f"{d}_{r.value}_bytes" for d in ("read", "write") for r in TensorRole)


def op_rows(w: Workload) -> list[dict[str, Any]]:
    """One plain dict per kernel, in order (`OP_COLUMNS`, plus its attrs under `attrs`)."""
    rows = []
    for i, op in enumerate(w.ops):
        row: dict[str, Any] = {
            "index": i, "name": op.name, "kind": op.kind.value, "pass": op.pass_.value,
            "layer": op.layer, "module": op.module, "flops": op.flops,
            "read_bytes": op.total_read_bytes, "write_bytes": op.total_write_bytes,
            "compute_dtype": op.compute_dtype.value}
        for r in TensorRole:
            row[f"read_{r.value}_bytes"] = op.read_bytes.get(r, 0.0)
            row[f"write_{r.value}_bytes"] = op.write_bytes.get(r, 0.0)
        row["attrs"] = {k: v for k, v in op.attrs.items() if _plain(v)}
        rows.append(row)
    return rows


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def write_op_csv(w: Workload, path: str | Path) -> None:
    """The op table as CSV (one row per kernel, `OP_COLUMNS`)."""
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(OP_COLUMNS), extrasaction="ignore")
        out.writeheader()
        out.writerows(op_rows(w))
