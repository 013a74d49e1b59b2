"""A sweep's grid: the axes read from GRID.yaml, validated, and cut into chunks.

A chunk is one workload shape (model, phase, batch, seq, context): it is traced (or re-shaped
from the trace cache) once and priced on every device x plan x precision x variant of the grid.

A plan is a mapping of `simulator.parallel.plan.Plan` fields ({tp: 4, pp: 2}); the grid's batch is
per data-parallel replica, so a training plan's global batch is batch x dp, and its micro-batch
is the whole replica batch unless the plan names one. Without a `plans` key every point is one
device, as `simulate` prices it (`SINGLE`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hwspecs import yaml_strict
from hwspecs.scale import FACTOR_NAMES, ScaleFactors
from simulator.core.cost import CostOptions
from simulator.core.measured_pricing import parse_kernels
from simulator.core.memory import Recompute
from simulator.core.precision import Precision
from simulator.sweep.grid_plans import SINGLE, PlanItem, read_plans
from simulator.sweep.grid_plans import short as _short
from workloads.op import Phase

# A variant's factors are `hwspecs.ScaleFactors` fields (`link` scales every link level of a
# plan's system: it changes nothing on one device).
_LIST_KEYS = ("models", "phases", "batch", "seq", "context", "devices", "precisions")
_KEYS = {*_LIST_KEYS, "variants", "plans", "ideal", "pricing", "recompute", "usd_per_gpu_hour",
         "kernels"}

MAX_GRID_BYTES = 1_000_000      # a grid file is a few hundred bytes
MAX_POINTS = 100_000_000        # refused when read: hours of work and tens of GB of results
POINTS_PER_S = 90_000           # a whole sweep on a 2-core machine (benchmarks/bench_sweep.py)
BYTES_PER_POINT = 350           # the results frame in memory, per point


@dataclass(frozen=True)
class ChunkKey:
    """One workload shape: what a chunk traces once."""

    index: int
    model: str
    phase: Phase
    batch: int
    seq: int
    context: int


@dataclass(frozen=True)
class Grid:
    models: tuple[str, ...]
    phases: tuple[Phase, ...]
    batch: tuple[int, ...]
    seq: tuple[int, ...]
    context: tuple[int, ...]          # decode's KV-cache lengths
    devices: tuple[str, ...]          # shipped names or device YAML paths
    variants: tuple[tuple[tuple[str, float], ...], ...]   # each: (factor, multiplier) pairs
    precisions: tuple[Precision, ...]
    ideal: bool = False
    pricing: str = "rent"
    recompute: str = "none"
    plans: tuple[PlanItem, ...] = (SINGLE,)
    # rent per GPU-hour replacing the specs': (("", 2.5),) every device, or per device name
    usd_per_gpu_hour: tuple[tuple[str, float], ...] = ()
    # what prices a kernel: model, measured (the committed measurements where they cover it,
    # the model elsewhere) or measured:DIR (imported records)
    kernels: str = "model"

    def chunks(self) -> list[ChunkKey]:
        keys = []
        for model, phase in itertools.product(self.models, self.phases):
            for batch, seq, context in self.shapes(phase):
                keys.append(ChunkKey(len(keys), model, phase, batch, seq, context))
        return keys

    def shapes(self, phase: Phase) -> list[tuple[int, int, int]]:
        """(batch, seq, context): decode runs one token on each KV-cache length."""
        if phase is Phase.DECODE:
            return [(b, 1, c) for b, c in itertools.product(self.batch, self.context)]
        return [(b, s, 0) for b, s in itertools.product(self.batch, self.seq)]

    @property
    def points_per_chunk(self) -> int:
        return len(self.devices) * len(self.plans) * len(self.variants) * len(self.precisions)

    @property
    def num_chunks(self) -> int:
        shapes = sum(len(self.batch) * len(self.context if p is Phase.DECODE else self.seq)
                     for p in self.phases)
        return len(self.models) * shapes

    @property
    def num_points(self) -> int:
        return self.num_chunks * self.points_per_chunk

    def estimate(self) -> str:
        """The work this grid asks for, in words: points, chunks, time and memory."""
        return work_estimate(self.num_points, self.num_chunks)

    def cost_options(self) -> CostOptions:
        return CostOptions(pricing=self.pricing, usd_per_gpu_hour=self.usd_per_gpu_hour)

    def with_kernels(self, text: str) -> Grid:
        """This grid priced by `text` (`--kernels`: model, measured or measured:DIR)."""
        return replace(self, kernels=_canonical_kernels(text))

    def scale_factors(self) -> list[ScaleFactors]:
        return [ScaleFactors.of(dict(v)) for v in self.variants]

    def to_dict(self) -> dict[str, Any]:
        """A canonical, JSON-ready form: two grids are the same sweep when these are equal."""
        return {
            "models": list(self.models), "phases": [p.value for p in self.phases],
            "batch": list(self.batch), "seq": list(self.seq), "context": list(self.context),
            "devices": list(self.devices),
            "variants": [dict(v) for v in self.variants],
            "plans": [dict(p) for p in self.plans],
            "precisions": [p.label for p in self.precisions],
            "ideal": self.ideal, "pricing": self.pricing, "recompute": self.recompute,
        }

    def fingerprint(self) -> str:
        d = self.to_dict()
        if self.usd_per_gpu_hour:           # left out when unset: older results still resume
            d["usd_per_gpu_hour"] = [list(x) for x in self.usd_per_gpu_hour]
        if self.kernels != "model":         # likewise
            d["kernels"] = self.kernels
        return json.dumps(d, sort_keys=True)


def variant_label(variant: tuple[tuple[str, float], ...]) -> str:
    return ",".join(f"{k}x{v:g}" for k, v in variant) or "base"


def work_estimate(points: int, chunks: int) -> str:
    seconds = points / POINTS_PER_S
    shown = f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.0f} min"
    return (f"{points:,} points in {chunks:,} workload shape(s): about {shown} on 2 cores and "
            f"{points * BYTES_PER_POINT / 1e9:,.2f} GB of results in memory")


def load_grid(path: str | Path) -> Grid:
    """Read and validate a GRID.yaml (strict YAML: no key twice, bounded size and nesting)."""
    try:
        raw = yaml_strict.load_file(path, MAX_GRID_BYTES, "grid file")
    except OSError as e:
        raise ValueError(f"cannot read grid file {path}: {e.strerror}") from None
    except yaml_strict.YamlRefused as e:
        raise ValueError(f"grid file {path}: {e}") from None
    return grid_from_dict(raw, str(path))


def grid_from_dict(raw: Any, where: str = "grid") -> Grid:
    """A validated Grid; every refusal is one sentence starting with `where` (the file)."""
    try:
        return _grid_from_dict(raw, where)
    except (ValueError, LookupError) as e:
        text = str(e.args[0]) if isinstance(e, LookupError) and e.args else str(e)
        if text.startswith(f"{where}:"):
            raise
        raise ValueError(f"{where}: {text}") from None
    except (TypeError, AttributeError, OverflowError) as e:   # a value of the wrong kind
        raise ValueError(f"{where}: a value has the wrong type ({e})") from None


def _grid_from_dict(raw: Any, where: str) -> Grid:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a grid must be a YAML mapping of axes")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown grid key(s) {', '.join(sorted(map(_short, unknown)))}; "
                         f"allowed: {', '.join(sorted(_KEYS))}")
    for key in ("models", "devices"):
        if key not in raw:
            raise ValueError(f"{where}: the grid needs a '{key}' list")
    lists = {k: _as_list(raw, k, where) for k in _LIST_KEYS if k in raw}
    _refuse_huge(raw, lists, where)
    phases = tuple(_phase(p, where) for p in lists.get("phases", ["prefill"]))
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
        plans=read_plans(raw["plans"], where) if "plans" in raw else (SINGLE,),
        kernels=_kernels(raw.get("kernels", "model"), where),
    )
    try:   # the clear "unknown pricing" or "bad price" error
        grid = replace(grid, usd_per_gpu_hour=CostOptions(
            pricing=grid.pricing, usd_per_gpu_hour=_rents(raw.get("usd_per_gpu_hour"), where)
        ).usd_per_gpu_hour)
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    for key in ("models", "devices", "precisions", "plans"):
        values = [str(v) for v in grid.to_dict()[key]]
        if len(set(values)) != len(values):
            raise ValueError(f"{where}: '{key}' lists a value twice")
    return grid


def _refuse_huge(raw: dict, lists: dict[str, list], where: str) -> None:
    """Count the points from the axes' lengths alone, before any axis is expanded."""
    def n(key: str, default: int = 1) -> int:
        return len(lists[key]) if key in lists else default

    phases = [str(p) for p in lists.get("phases", ["prefill"])]
    lengths = sum(n("context", n("seq")) if p == "decode" else n("seq") for p in phases)
    chunks = n("models") * n("batch") * lengths
    variants = 1
    if isinstance(raw.get("variants"), dict):
        for values in raw["variants"].values():
            variants *= len(values) if isinstance(values, list) else 1
    plans = raw.get("plans")
    points = chunks * n("devices") * n("precisions") * variants * (
        len(plans) if isinstance(plans, list) else 1)
    if points > MAX_POINTS:
        raise ValueError(f"{where}: the grid asks for {work_estimate(points, chunks)}; at most "
                         f"{MAX_POINTS:,} points are read: split it into smaller grids")


def _phase(value: Any, where: str) -> Phase:
    try:
        return Phase(str(value))
    except ValueError:
        raise ValueError(f"{where}: unknown phase {_short(value)}; use "
                         f"{', '.join(p.value for p in Phase)}") from None


def _as_list(raw: dict, key: str, where: str) -> list:
    value = raw[key]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"{where}: '{key}' must list at least one value")
    return items


def _positive_ints(values: list, key: str, where: str) -> tuple[int, ...]:
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ValueError(f"{where}: '{key}' must be positive integers, not {_short(values)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{where}: '{key}' lists a value twice")
    return tuple(values)


def _bool(value: Any, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where}: '{key}' must be true or false, not {_short(value)}")
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
        if factor not in FACTOR_NAMES:
            raise ValueError(f"{where}: unknown variant factor {_short(factor)}; use "
                             f"{', '.join(FACTOR_NAMES)}")
        values = values if isinstance(values, list) else [values]
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < float("inf")
                 for v in values)
        if not values or not ok or len(set(values)) != len(values):
            raise ValueError(f"{where}: variant factor {_short(factor)} needs distinct positive "
                             f"multipliers, not {_short(values)}")
        axes.append([(factor, float(v)) for v in values])
    return tuple(tuple(combo) for combo in itertools.product(*axes))


def _kernels(value: Any, where: str) -> str:
    """`model`, `measured` or `measured:DIR`, as `--kernels` takes them."""
    if not isinstance(value, str):
        raise ValueError(f"{where}: 'kernels' is model, measured or measured:DIR, not "
                         f"{_short(value)}")
    try:
        return _canonical_kernels(value)
    except ValueError as e:
        raise ValueError(f"{where}: {str(e).replace('--kernels', 'kernels', 1)}") from None


def _canonical_kernels(text: str) -> str:
    source, folder = parse_kernels(text)
    return source.value + (f":{folder}" if folder else "")


def _rents(value: Any, where: str):
    """`usd_per_gpu_hour: 2.5` (every device) or `{h100-sxm: 2.2, mi300x: 1.5}`."""
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    raise ValueError(f"{where}: usd_per_gpu_hour is a price (2.5) or a mapping of device to "
                     f"price ({{h100-sxm: 2.2}}), not {_short(value)}")


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
        raise ValueError(f"{where}: bad precision {_short(value)}: {e}") from None
    raise ValueError(f"{where}: a precision is a dtype name or a mapping with dtype, weights, "
                     f"kv, sparse; not {_short(value)}")
