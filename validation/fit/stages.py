"""The fit of a GPU's measured kernels, class by class: which records each stage fits, which
profile parameters it moves, their physical bounds, and the discrete shape choices it tries.

A parameter is named by its place in the profile: `matrix_fraction`, a key of one of its
mappings, `overheads.gemm.fp8`, or a dtype's own GEMM value, `gemm_by_dtype.fp8.gemm_k_half`.
Stages run in order (the GEMMs of the profile's base dtype first, then each other dtype's
GEMMs, whose kernels differ; MoE layers are priced with the GEMM parameters fitted before) and
each fits only its own records, so a class with few records cannot pull another's parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from simulator.comm.costs import CUSTOM_ALL_REDUCE
from simulator.core.kernel_classes import GROUPED_GEMM
from simulator.core.profile import EfficiencyProfile
from validation.fit.predict import is_nccl

MAPPINGS = ("attention_fraction_by_dtype", "overheads", "collective_efficiency")
BASE_DTYPE = "bf16"       # GEMMs of this dtype fit the profile's own GEMM fields


@dataclass(frozen=True)
class Parameter:
    name: str
    lo: float
    hi: float
    start: float | None = None     # where the profile has none (else mid-range, in log)


@dataclass(frozen=True)
class Stage:
    name: str                                    # the kernel class it fits
    rows: Callable[[pd.DataFrame], np.ndarray]   # which records
    parameters: Callable[[pd.DataFrame], list[Parameter]]   # from the records it sees
    shapes: tuple[dict, ...] = ({},)             # discrete choices, tried one by one


def get(profile: EfficiencyProfile, name: str) -> float:
    head, _, key = name.partition(".")
    if head in MAPPINGS:
        return float(getattr(profile, head).get(key, 0.0))
    if head == "gemm_by_dtype":
        dtype, _, field = key.partition(".")
        return float(getattr(profile.for_gemm_dtype(dtype), field))
    return float(getattr(profile, name))


def with_values(profile: EfficiencyProfile, values: dict) -> EfficiencyProfile:
    """The profile with these parameters (or discrete shape choices) set: mapping keys added
    or replaced, a dtype's GEMM values merged into its own."""
    plain, maps, by_dtype = {}, {}, {d: dict(v) for d, v in profile.gemm_by_dtype.items()}
    for name, value in values.items():
        head, _, key = name.partition(".")
        if head in MAPPINGS:
            maps.setdefault(head, dict(getattr(profile, head)))[key] = float(value)
        elif head == "gemm_by_dtype":
            dtype, _, field = key.partition(".")
            by_dtype.setdefault(dtype, {})[field] = value
        else:
            plain[name] = value
    if by_dtype != profile.gemm_by_dtype:
        plain["gemm_by_dtype"] = by_dtype
    return replace(profile, **plain, **maps)


def _dtypes(rows: pd.DataFrame) -> list[str]:
    return sorted(set(rows["dtype"].astype(str)))


def _gemm_parameters(rows: pd.DataFrame) -> list[Parameter]:
    return [Parameter("matrix_fraction", 1e-2, 1.0), Parameter("gemm_k_half", 1.0, 1e5),
            Parameter("gemm_m_half", 1e-2, 1e4), Parameter("memory_fraction", 1e-2, 1.0),
            Parameter("memory_half_bytes", 1.0, 1e9), Parameter("overheads.gemm", 1e-7, 1e-3),
            Parameter("l2_bw_ratio", 1.0, 10.0), Parameter("roofline_sharpness", 1.0, 30.0)]


def _dtype_gemm_parameters(dtype: str):
    def parameters(rows: pd.DataFrame) -> list[Parameter]:
        own = f"gemm_by_dtype.{dtype}"
        return [Parameter(f"{own}.matrix_fraction", 1e-2, 1.0),
                Parameter(f"{own}.gemm_k_half", 1.0, 1e5),
                Parameter(f"{own}.gemm_m_half", 1e-2, 1e4),
                Parameter(f"overheads.gemm.{dtype}", 1e-7, 1e-3)]
    return parameters


def _prefill_parameters(rows: pd.DataFrame) -> list[Parameter]:
    out = [Parameter("attention_fraction", 1e-2, 1.0), Parameter("attention_kv_half", 1.0, 1e6),
           Parameter("attention_q_half", 1e-2, 1e5),
           Parameter("attention_head_dim_half", 1e-2, 1e4),
           Parameter("overheads.attention_prefill", 1e-7, 1e-3)]
    out += [Parameter(f"attention_fraction_by_dtype.{d}", 1e-2, 1.0) for d in _dtypes(rows)
            if d != "bf16"]
    return out


def _decode_parameters(rows: pd.DataFrame) -> list[Parameter]:
    return [Parameter("decode_memory_fraction", 1e-2, 1.0),
            Parameter("decode_half_bytes", 1.0, 1e10),
            Parameter("decode_parallel_half", 1e-2, 1e5),
            Parameter("decode_row_unit_s", 1e-9, 1e-4),
            Parameter("overheads.attention_decode", 1e-7, 1e-3),
            Parameter("decode_head_fraction", 1e-3, 1.0)]


def _collective_parameters(rows: pd.DataFrame) -> list[Parameter]:
    """Latency per link step, and per collective and GPU count its bandwidth efficiency and
    fixed cost (NCCL picks other algorithms and protocols at 2 and at 8 GPUs)."""
    out = [Parameter("collective_latency_s", 1e-8, 1e-4)]
    for op, n in sorted({(str(o), int(g)) for o, g in zip(rows["op"], rows["gpus"],
                                                          strict=True)}):
        out += [Parameter(f"collective_efficiency.{op}.{n}", 1e-2, 1.0),
                Parameter(f"overheads.collective.{op}.{n}", 1e-7, 1e-3)]
    return out


def _moe_parameters(rows: pd.DataFrame) -> list[Parameter]:
    # The routing kernels' fixed cost, and the fused expert GEMMs' own per dtype (their
    # kernels are not the dense GEMMs the gemm stages measured).
    return [Parameter("overheads.routing", 1e-7, 1e-3),
            *(Parameter(f"overheads.{GROUPED_GEMM}.{d}", 1e-7, 1e-3, 4e-6)
              for d in _dtypes(rows))]


def _of(kernel: str, op: str | None = None, dtype: str | None = None):
    def rows(frame: pd.DataFrame) -> np.ndarray:
        sel = frame["kernel"].to_numpy() == kernel
        if op is not None:
            sel &= frame["op"].to_numpy() == op
        if dtype is not None:
            sel &= frame["dtype"].astype(str).to_numpy() == dtype
        return sel
    return rows


def _collective(nccl: bool):
    def rows(frame: pd.DataFrame) -> np.ndarray:
        sel = frame["kernel"].to_numpy() == "collective"
        return sel & (is_nccl(frame) if nccl else ~is_nccl(frame))
    return rows


def _custom_all_reduce_parameters(rows: pd.DataFrame) -> list[Parameter]:
    out = []
    for n in sorted({int(g) for g in rows["gpus"]}):
        # NB: starts cheaper than NCCL: where NCCL is faster at every size the min() with it
        # has no gradient, and the fit would stay wherever it started
        out += [Parameter(f"collective_efficiency.{CUSTOM_ALL_REDUCE}.{n}", 1e-2, 1.0, 0.5),
                Parameter(f"overheads.collective.{CUSTOM_ALL_REDUCE}.{n}", 1e-7, 1e-3, 2e-6)]
    return out


# Tile shapes CUTLASS / cuBLAS pick from on tensor-core GPUs (rows x columns of C).
TILE_SETS = (((64, 128), (128, 128)),
             ((64, 64), (64, 128), (128, 64), (128, 128), (128, 256), (256, 128)))
SPLIT_K_MAX = (0, 2, 4, 8)
GEMM_SHAPES = tuple({"gemm_tiles": tiles, "gemm_mma_m": 16, "gemm_split_k_max": splits}
                    for tiles in TILE_SETS for splits in SPLIT_K_MAX)


# The most query heads per KV head one decode kernel packs (0: any group); engines fall
# back to a kernel per query head beyond their packed kernel's limit. Work items are counted
# per KV head (packed) or per query head, whichever fits.
DECODE_GROUP_MAX = (0, 8, 16, 32, 64)
DECODE_SHAPES = tuple({"decode_group_max": g, "decode_packed_items": packed}
                      for packed in (True, False) for g in DECODE_GROUP_MAX)


def gpu_stages(frame: pd.DataFrame) -> list[Stage]:
    """The stages for these records: one per other GEMM dtype they hold."""
    dtypes = set(frame.loc[frame["kernel"] == "gemm", "dtype"].astype(str))
    others = sorted(dtypes - {BASE_DTYPE})
    return [
        Stage("gemm", _of("gemm", dtype=BASE_DTYPE), _gemm_parameters, GEMM_SHAPES),
        *(Stage(f"gemm.{d}", _of("gemm", dtype=d), _dtype_gemm_parameters(d),
                tuple({f"gemm_by_dtype.{d}.gemm_tiles": t,
                       f"gemm_by_dtype.{d}.gemm_split_k_max": s}
                      for t in TILE_SETS for s in SPLIT_K_MAX)) for d in others),
        Stage("attention_prefill", _of("attention", "sdpa_prefill"), _prefill_parameters,
              tuple({"attention_block_q": b, "attention_keys": "visible"} for b in (64, 128))),
        Stage("attention_decode", _of("attention", "sdpa_decode"), _decode_parameters,
              DECODE_SHAPES),
        Stage("collective", _collective(nccl=True), _collective_parameters),
        Stage(f"collective.{CUSTOM_ALL_REDUCE}", _collective(nccl=False),
              _custom_all_reduce_parameters),
        Stage("moe", _of("moe"), _moe_parameters),
    ]
