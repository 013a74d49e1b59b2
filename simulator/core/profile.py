"""The efficiency profile: every parameter of the shape-dependent efficiency model, with its
provenance (which profile prices a device: `simulator.core.profile_choice`).

One `EfficiencyProfile` holds every parameter. Defaults come from the device spec's
`defaults_until_calibrated` plus `hwspecs/calibration/default.yaml`; a fitted profile
(`hwspecs/calibration/<device>.<engine>.yaml`, the engine being the software stack the
kernels were measured under) replaces them; `ideal()` is the speed of light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

from hwspecs.schema import DeviceSpec, EfficiencyDefaults

CALIBRATION_DIR = Path(__file__).resolve().parents[2] / "hwspecs" / "calibration"


@dataclass(frozen=True)
class EfficiencyProfile:
    name: str
    source: str
    matrix_fraction: float
    vector_fraction: float
    memory_fraction: float
    kernel_overhead_s: float
    attention_fraction: float
    gemm_tile_m: tuple[int, ...]
    gemm_tile_n: int
    gemm_mma_m: int
    gemm_split_k_min: int
    gemm_k_half: float
    gemm_m_half: float
    attention_block_q: int
    attention_kv_half: float
    attention_q_half: float
    attention_head_dim_half: float
    memory_half_bytes: float
    dequant_flops_per_element: float
    # What a GPU's measured kernels show beyond one fraction and one overhead (empty or 0:
    # off, the single figures above apply):
    # - the (rows, columns) output tiles a GEMM library picks from (else gemm_tile_m x n);
    gemm_tiles: tuple[tuple[int, int], ...] = ()
    # - the most ways a GEMM library splits K over idle compute units (0: as many as fit);
    gemm_split_k_max: int = 0
    # - GEMMs of a compute dtype run other kernels (fp8 is not twice bf16, block-scaled fp8
    #   tiles otherwise): per dtype, its own values of GEMM_DTYPE_FIELDS;
    gemm_by_dtype: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # - the attention fraction per compute dtype;
    attention_fraction_by_dtype: Mapping[str, float] = field(default_factory=dict)
    # - a fixed cost per kernel class ("gemm", "gemm.fp8", "attention_prefill",
    #   "attention_decode", "moe", "collective.all_reduce", ...), most specific key first;
    overheads: Mapping[str, float] = field(default_factory=dict)
    # - decode attention (one query per sequence) as the read of its KV cache, at its own
    #   bandwidth fraction, ramping in the bytes read and in the batch x heads it spreads over;
    # - activations a kernel reads that fit in the L2 cache (they were just written there)
    #   stream at this multiple of the memory bandwidth (0: off);
    l2_bw_ratio: float = 0.0
    # - compute and memory time combine as (c^p + m^p)^(1/p) with this p (0: max(c, m), the
    #   plain roofline), so kernels near the ridge point run slower than either bound;
    roofline_sharpness: float = 0.0
    # - the keys attention's key ramp counts: "kv_len", or "visible" (through the mask);
    attention_keys: str = "kv_len"
    decode_memory_fraction: float = 0.0
    decode_half_bytes: float = 0.0
    decode_parallel_half: float = 0.0
    # ... and at least this many seconds of one compute unit per query row (a sequence's
    # query head), whatever its keys: loading the query, the softmax and writing the output;
    decode_row_unit_s: float = 0.0
    # ... except where more query heads share a KV head than one kernel packs together
    # (`decode_group_max`, 0: any group packs): those run one query head at a time on the
    # vector units, their FLOPs at `decode_head_fraction` of the vector peak (0: off);
    decode_group_max: int = 0
    decode_head_fraction: float = 0.0
    # ... and the floor and the parallelism ramp count work items of one KV head with its
    # packed query heads (batch x kv_heads) where this is true, else query heads (batch x heads);
    decode_packed_items: bool = False
    # - collectives inside the scale-up domain: the link's bandwidth efficiency per
    #   collective (their fixed costs are `overheads["collective.<kind>"]`), and the per-step
    #   link latency the fit found (used where the device's spec publishes none).
    collective_efficiency: Mapping[str, float] = field(default_factory=dict)
    collective_latency_s: float = 0.0
    # Where the profile comes from: the device and engine it was fitted on, and how it got to
    # this device ("fitted", or "transferred from <device>" by `transfer_profile`).
    fitted_on: str = ""
    engine: str = ""
    fitted_data: str = ""          # the checksum of the measurement records it was fitted on
    provenance: str = ""
    fitted: bool = False
    ideal: bool = False
    # Calibration residuals per kernel class: (p10, p90) of measured / predicted time.
    intervals: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # Shapes the fit saw per kernel class, e.g. {"gemm": {"flops": [lo, hi]}}.
    measured_range: Mapping[str, Mapping[str, tuple[float, float]]] = field(
        default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("matrix_fraction", "vector_fraction", "memory_fraction",
                     "attention_fraction"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"efficiency profile {self.name!r}: {name} must be in (0, 1], "
                                 f"not {value}")
        if self.kernel_overhead_s < 0:
            raise ValueError(f"efficiency profile {self.name!r}: kernel_overhead_s is negative")
        for dtype, values in self.gemm_by_dtype.items():
            unknown = set(values) - set(GEMM_DTYPE_FIELDS)
            if unknown:
                raise ValueError(f"efficiency profile {self.name!r}: gemm_by_dtype.{dtype} sets "
                                 f"{', '.join(sorted(unknown))}; only "
                                 f"{', '.join(GEMM_DTYPE_FIELDS)} may differ by dtype")
        fractions = {**{f"gemm_by_dtype.{d}.matrix_fraction": v["matrix_fraction"]
                        for d, v in self.gemm_by_dtype.items() if "matrix_fraction" in v},
                     **self.attention_fraction_by_dtype,
                     **{f"collective_efficiency.{k}": v
                        for k, v in self.collective_efficiency.items()}}
        bad = [k for k, v in fractions.items() if not 0 < v <= 1]
        if bad or not 0 <= self.decode_memory_fraction <= 1 \
                or not 0 <= self.decode_head_fraction <= 1:
            raise ValueError(f"efficiency profile {self.name!r}: fractions must be in (0, 1]: "
                             f"{', '.join(bad) or 'decode_memory_fraction or decode_head_fraction'}")
        if self.attention_keys not in ("kv_len", "visible"):
            raise ValueError(f"efficiency profile {self.name!r}: attention_keys must be kv_len "
                             f"or visible, not {self.attention_keys!r}")
        if any(v < 0 for v in self.overheads.values()) or self.collective_latency_s < 0 \
                or self.decode_row_unit_s < 0:
            raise ValueError(f"efficiency profile {self.name!r}: a fixed cost is negative")
        if self.decode_group_max < 0:
            raise ValueError(f"efficiency profile {self.name!r}: decode_group_max is negative")

    def for_gemm_dtype(self, dtype: str) -> EfficiencyProfile:
        """The profile GEMMs of this compute dtype are priced with (itself where the dtype has
        no values of its own)."""
        values = self.gemm_by_dtype.get(dtype)
        if not values:
            return self
        return self.derived(("for_gemm_dtype", dtype), lambda: replace(
            self, gemm_by_dtype={}, **{k: tuple(tuple(t) for t in v) if k == "gemm_tiles"
                                       else v for k, v in values.items()}))

    def overhead_for(self, kernel_class: str, dtype: str = "") -> float:
        """The fixed cost of one kernel of a class (`class.dtype` first, then `class`)."""
        o = self.overheads
        return o.get(f"{kernel_class}.{dtype}", o.get(kernel_class, self.kernel_overhead_s))

    def collective_fixed_s(self, kind: str, group_size: int | None = None) -> float:
        """The fixed cost of one collective call (launch and synchronization): the fitted
        one for this collective (and group size), else the per-kernel overhead."""
        def fixed() -> float:
            fitted = {k.removeprefix("collective."): v for k, v in self.overheads.items()
                      if k.startswith(f"collective.{kind}")}
            value = self.collective_value(fitted, kind, group_size)
            return self.overhead_for("collective") if value is None else value

        return self.derived(("collective_fixed_s", kind, group_size), fixed)

    def collective_efficiency_for(self, kind: str, group_size: int | None) -> float | None:
        """The scale-up link's fitted bandwidth efficiency for this collective (None: none)."""
        return self.derived(("collective_efficiency", kind, group_size),
                             lambda: self.collective_value(self.collective_efficiency, kind,
                                                           group_size))

    def derived(self, key: tuple, build):
        """A value derived from this (frozen) profile's fields alone, built on first use and
        kept by the profile: pricing asks the same lookups on every call."""
        derived = self.__dict__.setdefault("_derived_values", {})
        if key not in derived:
            derived[key] = build()
        return derived[key]

    def collective_value(self, table: Mapping[str, float], kind: str, group_size: int | None,
                         default: float | None = None) -> float | None:
        """A collective's fitted value (`table` keyed "kind" or "kind.<gpus>"): the group
        size's own, else the nearest measured size's (the largest below, else the smallest),
        else the collective's, else `default`."""
        sizes = sorted(int(k.rpartition(".")[2]) for k in table
                       if k.startswith(f"{kind}.") and k.rpartition(".")[2].isdigit())
        if sizes and group_size is not None:
            below = [s for s in sizes if s <= group_size]
            return table[f"{kind}.{below[-1] if below else sizes[0]}"]
        if kind in table:
            return table[kind]
        return table[f"{kind}.{sizes[-1]}"] if sizes else default

    @property
    def origin(self) -> str:
        """One line: what priced it, where it was fitted, and how it came here."""
        if self.ideal:
            return "speed of light (ideal)"
        if not self.fitted:
            return f"{self.name}"
        return f"{self.name} ({self.provenance or 'fitted'})"


GEMM_DTYPE_FIELDS = ("matrix_fraction", "gemm_tiles", "gemm_k_half", "gemm_m_half",
                     "gemm_split_k_max")
_PROFILE_KEYS = {f.name for f in fields(EfficiencyProfile)}
_OPTIONAL = {f.name for f in fields(EfficiencyProfile) if f.default is not MISSING
             or f.default_factory is not MISSING}


@cache
def _shape_defaults() -> dict[str, Any]:
    raw = yaml.safe_load((CALIBRATION_DIR / "default.yaml").read_text())
    raw["gemm_tile_m"] = tuple(raw["gemm_tile_m"])
    return raw


def default_profile(device: DeviceSpec) -> EfficiencyProfile:
    return _default(device.name, device.path, device.defaults)


@lru_cache(maxsize=256)
def _default(name: str, path: str, d: EfficiencyDefaults) -> EfficiencyProfile:
    """Built once per spec: the profile reads only these fields of it."""
    shape = _shape_defaults()
    return EfficiencyProfile(
        **{k: v for k, v in shape.items() if k not in ("name", "source")},
        name=f"{name} defaults (not calibrated)",
        source=f"{path}: defaults_until_calibrated; {shape['source']}",
        matrix_fraction=d.matrix_fraction, vector_fraction=d.vector_fraction,
        memory_fraction=d.memory_fraction, kernel_overhead_s=d.kernel_overhead_s)


def ideal(profile: EfficiencyProfile) -> EfficiencyProfile:
    """Speed of light: every efficiency 1, no overhead, no quantization or ramp losses."""
    return replace(profile, name="ideal (speed of light)", matrix_fraction=1.0,
                   vector_fraction=1.0, memory_fraction=1.0, attention_fraction=1.0,
                   kernel_overhead_s=0.0, gemm_k_half=0.0, gemm_m_half=0.0,
                   attention_kv_half=0.0, attention_q_half=0.0,
                   attention_head_dim_half=0.0, memory_half_bytes=0.0, ideal=True,
                   intervals={}, measured_range={}, gemm_by_dtype={},
                   attention_fraction_by_dtype={}, overheads={}, decode_memory_fraction=0.0,
                   decode_half_bytes=0.0, decode_parallel_half=0.0, decode_row_unit_s=0.0,
                   decode_group_max=0, decode_head_fraction=0.0, decode_packed_items=False,
                   collective_efficiency={k: 1.0 for k in profile.collective_efficiency},
                   collective_latency_s=0.0, l2_bw_ratio=0.0, roofline_sharpness=0.0)


def load_profile(path: str | Path) -> EfficiencyProfile:
    """A profile YAML (as written by `archsim calibrate`), read as strictly as a spec."""
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: an efficiency profile must be a YAML mapping")
    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise ValueError(f"{path}: unknown profile field(s) {', '.join(sorted(unknown))}")
    merged = {**_shape_defaults(), **raw}
    merged["gemm_tile_m"] = tuple(merged["gemm_tile_m"])
    merged["gemm_tiles"] = tuple(tuple(t) for t in merged.get("gemm_tiles", ()))
    merged["intervals"] = {k: tuple(v) for k, v in merged.get("intervals", {}).items()}
    missing = _PROFILE_KEYS - set(merged) - _OPTIONAL
    if missing:
        raise ValueError(f"{path}: missing profile field(s) {', '.join(sorted(missing))}")
    return EfficiencyProfile(**merged)


def _read(path: str | Path) -> Any:
    from hwspecs import yaml_strict

    try:
        return yaml_strict.load_file(path, MAX_PROFILE_BYTES, "profile")
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml_strict.YamlRefused as exc:
        raise ValueError(f"{path}: {exc}") from None


MAX_PROFILE_BYTES = 1 << 20


def check_profile_file(path: str | Path) -> None:
    """Validate a calibration YAML: the shared shape defaults or a fitted profile."""
    if Path(path).name == "default.yaml":
        raw = _read(path)
        if not isinstance(raw, dict) or not str(raw.get("source", "")).strip():
            raise ValueError(f"{path}: the shape defaults need a mapping with a 'source'")
        unknown = set(raw) - _PROFILE_KEYS
        if unknown:
            raise ValueError(f"{path}: unknown profile field(s) {', '.join(sorted(unknown))}")
        return
    load_profile(path)


# The serving engines whose kernels a profile can be fitted to (`--engine`), the default first;
# `torch` is eager PyTorch, what `archsim bench` measures.
ENGINES = ("trtllm", "vllm", "sglang", "torch")
DEFAULT_ENGINE = ENGINES[0]


def check_engine(engine: str | None) -> str | None:
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    return engine
