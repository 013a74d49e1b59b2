"""A sweep's grid: the axes read from GRID.yaml, validated, and cut into chunks.

A chunk is one workload shape (model, phase, batch, seq, context): it is traced (or re-shaped
from the trace cache) once and priced on every device x variant x precision of the grid.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulator.cost import CostOptions
from simulator.memory import Recompute
from simulator.precision import Precision

# NB: `link` is left out: a single-device sweep has no communication for it to change.
VARIANT_FACTORS = ("matrix", "vector", "mem_bw", "mem_capacity", "price", "power")
PHASES = ("prefill", "decode", "train")
_LIST_KEYS = ("models", "phases", "batch", "seq", "context", "devices", "precisions")
_KEYS = {*_LIST_KEYS, "variants", "ideal", "pricing", "recompute"}


@dataclass(frozen=True)
class ChunkKey:
    """One workload shape: what a chunk traces once."""

    index: int
    model: str
    phase: str
    batch: int
    seq: int
    context: int


@dataclass(frozen=True)
class Grid:
    models: tuple[str, ...]
    phases: tuple[str, ...]
    batch: tuple[int, ...]
    seq: tuple[int, ...]
    context: tuple[int, ...]          # decode's KV-cache lengths
    devices: tuple[str, ...]          # shipped names or device YAML paths
    variants: tuple[tuple[tuple[str, float], ...], ...]   # each: (factor, multiplier) pairs
    precisions: tuple[Precision, ...]
    ideal: bool = False
    pricing: str = "rent"
    recompute: str = "none"

    def chunks(self) -> list[ChunkKey]:
        keys = []
        for model, phase in itertools.product(self.models, self.phases):
            for batch, seq, context in self.shapes(phase):
                keys.append(ChunkKey(len(keys), model, phase, batch, seq, context))
        return keys

    def shapes(self, phase: str) -> list[tuple[int, int, int]]:
        """(batch, seq, context): decode runs one token on each KV-cache length."""
        if phase == "decode":
            return [(b, 1, c) for b, c in itertools.product(self.batch, self.context)]
        return [(b, s, 0) for b, s in itertools.product(self.batch, self.seq)]

    @property
    def points_per_chunk(self) -> int:
        return len(self.devices) * len(self.variants) * len(self.precisions)

    @property
    def num_points(self) -> int:
        return len(self.chunks()) * self.points_per_chunk

    def cost_options(self) -> CostOptions:
        return CostOptions(pricing=self.pricing)

    def to_dict(self) -> dict[str, Any]:
        """A canonical, JSON-ready form: two grids are the same sweep when these are equal."""
        return {
            "models": list(self.models), "phases": list(self.phases),
            "batch": list(self.batch), "seq": list(self.seq), "context": list(self.context),
            "devices": list(self.devices),
            "variants": [dict(v) for v in self.variants],
            "precisions": [p.label for p in self.precisions],
            "ideal": self.ideal, "pricing": self.pricing, "recompute": self.recompute,
        }

    def fingerprint(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def variant_label(variant: tuple[tuple[str, float], ...]) -> str:
    return ",".join(f"{k}x{v:g}" for k, v in variant) or "base"


def load_grid(path: str | Path) -> Grid:
    """Read and validate a GRID.yaml."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"cannot read grid file {path}: {e.strerror}") from None
    return grid_from_dict(raw, str(path))


def grid_from_dict(raw: Any, where: str = "grid") -> Grid:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a grid must be a YAML mapping of axes")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown grid key(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(_KEYS))}")
    for key in ("models", "devices"):
        if key not in raw:
            raise ValueError(f"{where}: the grid needs a '{key}' list")
    lists = {k: _as_list(raw, k, where) for k in _LIST_KEYS if k in raw}
    phases = tuple(str(p) for p in lists.get("phases", ["prefill"]))
    for p in phases:
        if p not in PHASES:
            raise ValueError(f"{where}: unknown phase {p!r}; use {', '.join(PHASES)}")
    seq = _positive_ints(lists.get("seq", [2048]), "seq", where)
    grid = Grid(
        models=tuple(str(m) for m in lists["models"]),
        phases=phases,
        batch=_positive_ints(lists.get("batch", [1]), "batch", where),
        seq=seq,
        context=_positive_ints(lists.get("context", list(seq)), "context", where),
        devices=_devices(lists["devices"], where),
        variants=_variants(raw.get("variants", {}), where),
        precisions=tuple(_precision(p, where) for p in lists.get("precisions", ["bf16"])),
        ideal=_bool(raw.get("ideal", False), "ideal", where),
        pricing=str(raw.get("pricing", "rent")),
        recompute=Recompute.parse(str(raw.get("recompute", "none"))).value,
    )
    CostOptions(pricing=grid.pricing)  # raises the clear "unknown pricing" error
    for key in ("models", "devices", "precisions"):
        values = [str(v) for v in grid.to_dict()[key]]
        if len(set(values)) != len(values):
            raise ValueError(f"{where}: '{key}' lists a value twice")
    return grid


def _as_list(raw: dict, key: str, where: str) -> list:
    value = raw[key]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"{where}: '{key}' must list at least one value")
    return items


def _positive_ints(values: list, key: str, where: str) -> tuple[int, ...]:
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"{where}: '{key}' must be positive integers, not {values}")
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: '{key}' lists a value twice")
    return tuple(values)


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: '{key}' must be true or false, not {value!r}")
    return value


def _devices(values: list, where: str) -> tuple[str, ...]:
    from hwspecs import device_names

    if values == ["all"]:
        return tuple(device_names())
    return tuple(str(v) for v in values)


def _variants(raw: Any, where: str) -> tuple[tuple[tuple[str, float], ...], ...]:
    """The cartesian product of the factor axes, e.g. {mem_bw: [0.5, 1, 2], matrix: [1, 2]}."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'variants' must map a factor to its multipliers, e.g. "
                         "{mem_bw: [0.5, 1, 2]}")
    axes = []
    for factor, values in raw.items():
        if factor not in VARIANT_FACTORS:
            raise ValueError(f"{where}: unknown variant factor {factor!r}; use "
                             f"{', '.join(VARIANT_FACTORS)}")
        values = values if isinstance(values, list) else [values]
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf")
                 for v in values)
        if not values or not ok or len(set(values)) != len(values):
            raise ValueError(f"{where}: variant factor {factor!r} needs distinct positive "
                             f"multipliers, not {values}")
        axes.append([(factor, float(v)) for v in values])
    return tuple(tuple(combo) for combo in itertools.product(*axes))


def _precision(value: Any, where: str) -> Precision:
    """'fp8', or {dtype: bf16, weights: int4, kv: fp8, sparse: false}."""
    try:
        if isinstance(value, str):
            return Precision.parse(value)
        if isinstance(value, dict) and set(value) <= {"dtype", "weights", "kv", "sparse"}:
            return Precision.parse(str(value.get("dtype", "bf16")), weights=value.get("weights"),
                                   kv=value.get("kv"),
                                   sparse=_bool(value.get("sparse", False), "sparse", where))
    except ValueError as e:
        raise ValueError(f"{where}: bad precision {value!r}: {e}") from None
    raise ValueError(f"{where}: a precision is a dtype name or a mapping with dtype, weights, "
                     f"kv, sparse; not {value!r}")

