"""Fit an `EfficiencyProfile` to kernel measurements (scipy least squares on log error).

Parameters are fitted in log space inside physical bounds (no efficiency above 1). Every
fourth shape of each kernel class is held out of the fit; the error table reports those.
The fit's residuals give each kernel class a p10-p90 interval of measured / predicted time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import DTYPE_CODE, KIND_CODE, PASSES, OpArrays
from simulator.core.precision import Precision
from simulator.core.pricing import price
from simulator.core.profile import EfficiencyProfile
from workloads.op import OpKind, Pass

# (name, lower bound, upper bound): the fitted parameters and their physical limits.
FIT_PARAMETERS = (
    ("matrix_fraction", 1e-3, 1.0),
    ("vector_fraction", 1e-4, 1.0),
    ("memory_fraction", 1e-3, 1.0),
    ("attention_fraction", 1e-4, 1.0),
    ("kernel_overhead_s", 1e-8, 1e-2),
    ("gemm_k_half", 1.0, 1e5),
    ("gemm_m_half", 1e-3, 1e4),
    ("memory_half_bytes", 1.0, 1e10),
    ("attention_kv_half", 1.0, 1e6),
    ("attention_q_half", 1e-3, 1e4),
)
# Discrete shape parameters are chosen by trying each (a CPU has no 16-row matrix instruction).
SHAPE_CANDIDATES = tuple({"gemm_mma_m": mma, "gemm_tile_m": tiles, "gemm_tile_n": tn}
                         for mma in (1, 8, 16) for tiles, tn in (((64, 128), 128),
                                                                 ((16, 32), 32)))
MIN_POINTS_PER_PARAMETER = 3
HOLDOUT_EVERY = 4
_KIND = {"gemm": OpKind.GEMM, "grouped_gemm": OpKind.GROUPED_GEMM,
         "attention": OpKind.ATTENTION, "norm": OpKind.NORM, "softmax": OpKind.SOFTMAX,
         "elementwise": OpKind.ELEMENTWISE, "embedding": OpKind.EMBEDDING, "copy": OpKind.COPY}


def _col(frame: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    return frame[name].astype("Float64").fillna(default).to_numpy(dtype=float)


def records_to_arrays(frame: pd.DataFrame) -> OpArrays:
    """Measured kernels as simulator rows: the same shapes the simulator prices."""
    unknown = set(frame["kernel"]) - set(_KIND)
    if unknown:
        raise ValueError(f"measurements hold unknown kernel class(es) {', '.join(unknown)}")
    kind = np.array([KIND_CODE[_KIND[k]] for k in frame["kernel"]])
    dtype = np.array([DTYPE_CODE[DType.parse(d)] for d in frame["dtype"]])
    m, n, k = _col(frame, "m"), _col(frame, "n"), _col(frame, "k")
    batch = _col(frame, "batch", 1.0)
    groups = _col(frame, "groups", 1.0)
    is_attn = frame["kernel"].to_numpy() == "attention"
    is_grouped = frame["kernel"].to_numpy() == "grouped_gemm"
    heads = _col(frame, "heads", 1.0)
    m = np.where(is_attn, _col(frame, "q_len"), np.where(is_grouped, m / groups, m))
    n = np.where(is_attn, _col(frame, "kv_len"), n)
    k = np.where(is_attn, _col(frame, "head_dim"), k)
    batch = np.where(is_attn, batch * heads, np.where(is_grouped, groups, batch))
    zeros = np.zeros(len(frame))
    weight_elements = np.where(np.isin(kind, [KIND_CODE[OpKind.GEMM],
                                              KIND_CODE[OpKind.GROUPED_GEMM]]),
                               n * k * np.where(is_grouped, groups, 1.0), 0.0)
    return OpArrays(
        kind=kind, flops=frame["flops"].to_numpy(dtype=float), weight_read_bytes=zeros,
        act_read_bytes=frame["read_bytes"].to_numpy(dtype=float),
        act_write_bytes=frame["write_bytes"].to_numpy(dtype=float), kv_read_bytes=zeros,
        kv_write_bytes=zeros, other_bytes=zeros, compute_dtype=dtype, m=m, n=n, k=k,
        batch=batch, weight_elements=weight_elements, layer=np.zeros(len(frame), dtype=int),
        pass_=np.full(len(frame), PASSES.index(Pass.FORWARD)),
        names=tuple(frame["op"].astype(str)))


def predict_s(frame: pd.DataFrame, device: DeviceSpec, profile: EfficiencyProfile,
              arrays: OpArrays | None = None) -> np.ndarray:
    """Predicted seconds per measured record (eager chains pay one overhead per launch)."""
    arrays = arrays if arrays is not None else records_to_arrays(frame)
    out = np.zeros(len(frame))
    dtypes = frame["dtype"].to_numpy()
    for name in np.unique(dtypes):
        rows = dtypes == name
        d = DType.parse(name)
        sub = arrays.take(np.flatnonzero(rows))
        out[rows] = price(sub, device, profile, d, Precision(d, d, d)).time_s[0]
    launches = _col(frame, "launches", 1.0)
    return out + (launches - 1) * profile.kernel_overhead_s


def holdout_mask(frame: pd.DataFrame) -> np.ndarray:
    """True for every HOLDOUT_EVERY-th shape of each kernel class (in file order)."""
    rank = frame.groupby("kernel").cumcount().to_numpy()
    return rank % HOLDOUT_EVERY == HOLDOUT_EVERY - 1


@dataclass(frozen=True)
class Fit:
    profile: EfficiencyProfile
    predicted_s: np.ndarray
    holdout: np.ndarray
    cost: float


def fit_profile(frame: pd.DataFrame, device: DeviceSpec, start: EfficiencyProfile,
                name: str, source: str) -> Fit:
    """Least squares on log(predicted / measured) over the non-held-out records, for each
    candidate of the discrete shape parameters; the lowest cost wins."""
    fits = [_fit_continuous(frame, device, replace(start, **shape), name, source)
            for shape in SHAPE_CANDIDATES]
    return min(fits, key=lambda f: f.cost)


def _fit_continuous(frame: pd.DataFrame, device: DeviceSpec, start: EfficiencyProfile,
                    name: str, source: str) -> Fit:
    from scipy.optimize import least_squares

    holdout = holdout_mask(frame)
    train = frame[~holdout].reset_index(drop=True)
    needed = MIN_POINTS_PER_PARAMETER * len(FIT_PARAMETERS)
    if len(train) < needed:
        raise ValueError(f"calibration needs at least {needed} measurements outside the held-"
                         f"out set to fit {len(FIT_PARAMETERS)} parameters; got {len(train)} "
                         "(run the full `archsim bench`, not --quick)")
    arrays = records_to_arrays(train)
    measured = train["median_s"].to_numpy(dtype=float)
    lo = np.log([b[1] for b in FIT_PARAMETERS])
    hi = np.log([b[2] for b in FIT_PARAMETERS])
    # NB: a parameter that starts switched off (0) starts mid-range, where it has a gradient.
    x0 = np.clip(np.log([getattr(start, p[0]) if getattr(start, p[0]) > 0 else
                         np.sqrt(p[1] * p[2]) for p in FIT_PARAMETERS]), lo, hi)

    def residuals(x: np.ndarray) -> np.ndarray:
        profile = _with(start, x)
        return np.log(predict_s(train, device, profile, arrays) / measured)

    result = least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac")
    profile = _with(start, result.x)
    all_predicted = predict_s(frame, device, profile)
    ratios = frame["median_s"].to_numpy(dtype=float)[~holdout] / all_predicted[~holdout]
    profile = replace(profile, name=name, source=source, fitted=True,
                      intervals=_intervals(train["kernel"].to_numpy(), ratios),
                      measured_range=_ranges(train))
    return Fit(profile=profile, predicted_s=all_predicted, holdout=holdout,
               cost=float(result.cost))


def _with(profile: EfficiencyProfile, x: np.ndarray) -> EfficiencyProfile:
    values = {p[0]: float(v) for p, v in zip(FIT_PARAMETERS, np.exp(x), strict=True)}
    return replace(profile, **values)


def _intervals(kinds: np.ndarray, ratios: np.ndarray) -> dict[str, tuple[float, float]]:
    out = {}
    for kind in np.unique(kinds):
        r = ratios[kinds == kind]
        out[str(kind)] = (float(np.percentile(r, 10)), float(np.percentile(r, 90)))
    return out


def _ranges(frame: pd.DataFrame) -> dict[str, dict[str, tuple[float, float]]]:
    out = {}
    for kind, rows in frame.groupby("kernel"):
        moved = rows["read_bytes"] + rows["write_bytes"]
        out[str(kind)] = {"flops": (float(rows["flops"].min()), float(rows["flops"].max())),
                          "bytes": (float(moved.min()), float(moved.max()))}
    return out


def error_table(frame: pd.DataFrame, predicted_s: np.ndarray,
                rows: np.ndarray | None = None) -> pd.DataFrame:
    """Median and p90 absolute percentage error per kernel class (on `rows` if given)."""
    rows = np.ones(len(frame), dtype=bool) if rows is None else rows
    measured = frame["median_s"].to_numpy(dtype=float)
    ape = np.abs(predicted_s - measured) / measured * 100.0
    data = pd.DataFrame({"kernel": frame["kernel"].to_numpy()[rows], "ape_pct": ape[rows],
                         "noise_pct": frame["noise_riqr"].to_numpy(dtype=float)[rows] * 100})
    table = data.groupby("kernel").agg(
        cases=("ape_pct", "size"), median_ape_pct=("ape_pct", "median"),
        p90_ape_pct=("ape_pct", lambda s: float(np.percentile(s, 90))),
        median_noise_pct=("noise_pct", "median"))
    return table.reset_index()


def save_profile(profile: EfficiencyProfile, path: str | Path) -> Path:
    """Write a profile YAML that `simulator.core.efficiency.load_profile` reads back."""
    data = {
        "name": profile.name, "source": profile.source, "fitted": True,
        **{p[0]: float(getattr(profile, p[0])) for p in FIT_PARAMETERS},
        "gemm_tile_m": list(profile.gemm_tile_m), "gemm_tile_n": profile.gemm_tile_n,
        "gemm_mma_m": profile.gemm_mma_m, "gemm_split_k_min": profile.gemm_split_k_min,
        "attention_block_q": profile.attention_block_q,
        "attention_head_dim_half": profile.attention_head_dim_half,
        "dequant_flops_per_element": profile.dequant_flops_per_element,
        "intervals": {k: [float(a), float(b)] for k, (a, b) in profile.intervals.items()},
        "measured_range": {k: {c: [float(a), float(b)] for c, (a, b) in v.items()}
                           for k, v in profile.measured_range.items()},
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out
