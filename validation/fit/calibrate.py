"""Fit an `EfficiencyProfile` to kernel measurements (scipy least squares on log error).

Parameters are fitted in log space inside physical bounds (no efficiency above 1). Every
fourth shape of each kernel class is held out of the fit; the error table reports those.
The fit's residuals give each kernel class a p10-p90 interval of measured / predicted time.

Two kinds of data: `archsim bench` grids on this machine (every kernel class at once, one
joint fit of `FIT_PARAMETERS`), and imported GPU tables (GEMM, attention, MoE layers,
collectives), fitted class by class (`validation.fit.stages`): each class moves only its own
parameters, on at most `FIT_ROWS` records of it (a seeded sample: the tables hold 10^5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hwspecs.schema import DeviceSpec
from simulator.comm.costs import CUSTOM_ALL_REDUCE
from simulator.core.profile import EfficiencyProfile
from validation.fit.kernel_records import records_to_arrays
from validation.fit.predict import is_nccl, predict_s
from validation.fit.stages import Stage, get, gpu_stages, with_values

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
FIT_ROWS = 3000
# Record classes only imported GPU tables hold; a frame of these alone is fitted by stages.
GPU_CLASSES = {"gemm", "attention", "moe", "collective"}


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
                name: str, source: str, progress: bool = False) -> Fit:
    """Least squares on log(predicted / measured) over the non-held-out records, for each
    candidate of the discrete shape parameters; the lowest cost wins."""
    if set(frame["kernel"]) <= GPU_CLASSES:
        return _fit_stages(frame, device, start, name, source, progress)
    fits = [_fit_continuous(frame, device, replace(start, **shape), name, source)
            for shape in SHAPE_CANDIDATES]
    return min(fits, key=lambda f: f.cost)


def _fit_stages(frame: pd.DataFrame, device: DeviceSpec, start: EfficiencyProfile,
                name: str, source: str, progress: bool) -> Fit:
    from tqdm import tqdm

    holdout = holdout_mask(frame)
    measured = frame["median_s"].to_numpy(dtype=float)
    profile, cost = start, 0.0
    for stage in tqdm(gpu_stages(frame), desc="calibrate", unit="class", disable=not progress):
        rows = stage.rows(frame) & ~holdout
        if rows.sum() < MIN_POINTS_PER_PARAMETER * len(stage.parameters(frame[rows])):
            continue
        profile, c = _fit_stage(stage, frame[rows], measured[rows], device, profile)
        cost += c
    predicted = predict_s(frame, device, profile)
    train = ~holdout
    profile = replace(profile, name=name, source=source, fitted=True,
                      intervals=_intervals(record_classes(frame)[train],
                                           measured[train] / predicted[train]),
                      measured_range=_ranges(frame[train].assign(kernel=record_classes(frame)[train])))
    return Fit(profile=profile, predicted_s=predicted, holdout=holdout, cost=cost)


def _fit_stage(stage: Stage, rows: pd.DataFrame, measured: np.ndarray, device: DeviceSpec,
               profile: EfficiencyProfile) -> tuple[EfficiencyProfile, float]:
    """The stage's parameters fitted on (a sample of) its records, for each discrete choice."""
    from scipy.optimize import least_squares

    if len(rows) > FIT_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(len(rows), FIT_ROWS, replace=False))
        rows, measured = rows.iloc[pick], measured[pick]
    rows = rows.reset_index(drop=True)
    params = stage.parameters(rows)
    lo = np.log([p.lo for p in params])
    hi = np.log([p.hi for p in params])
    best: tuple[float, EfficiencyProfile] | None = None
    for shape in stage.shapes:
        base = with_values(profile, shape)
        x0 = np.clip(np.log([get(base, p.name) if get(base, p.name) > 0
                             else p.start or np.sqrt(p.lo * p.hi) for p in params]), lo, hi)
        single = stage.name.partition(".")[0] not in ("moe", "collective")
        arrays = records_to_arrays(rows) if single else None

        def residuals(x: np.ndarray, base=base, arrays=arrays) -> np.ndarray:
            fitted = with_values(base, {p.name: v for p, v in
                                        zip(params, np.exp(x), strict=True)})
            return np.log(predict_s(rows, device, fitted, arrays) / measured)

        result = least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac")
        fitted = with_values(base, {p.name: v for p, v in
                                    zip(params, np.exp(result.x), strict=True)})
        if best is None or result.cost < best[0]:
            best = (float(result.cost), fitted)
    return best[1], best[0]


def record_classes(frame: pd.DataFrame) -> np.ndarray:
    """Each record's class as intervals and errors name it: attention split by phase, NCCL
    collectives by their kind, an engine's own all-reduce apart."""
    kernel = frame["kernel"].to_numpy().astype(object)
    op = frame["op"].to_numpy()
    out = kernel.copy()
    out[(kernel == "attention") & (op == "sdpa_prefill")] = "attention_prefill"
    out[(kernel == "attention") & (op == "sdpa_decode")] = "attention_decode"
    comm = kernel == "collective"
    if comm.any():
        out[comm] = op[comm]                                  # all_reduce, all_gather, ...
        out[comm & ~is_nccl(frame)] = CUSTOM_ALL_REDUCE
    return out


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
    """Median and p90 absolute percentage error per kernel class and dtype (on `rows` if
    given); attention is split into prefill and decode."""
    rows = np.ones(len(frame), dtype=bool) if rows is None else rows
    measured = frame["median_s"].to_numpy(dtype=float)
    ape = np.abs(predicted_s - measured) / measured * 100.0
    data = pd.DataFrame({"kernel": record_classes(frame)[rows],
                         "dtype": frame["dtype"].astype(str).to_numpy()[rows],
                         "ape_pct": ape[rows],
                         "noise_pct": frame["noise_riqr"].to_numpy(dtype=float)[rows] * 100})
    table = data.groupby(["kernel", "dtype"]).agg(
        cases=("ape_pct", "size"), median_ape_pct=("ape_pct", "median"),
        p90_ape_pct=("ape_pct", lambda s: float(np.percentile(s, 90))),
        median_noise_pct=("noise_pct", "median"))
    return table.reset_index()


@dataclass(frozen=True)
class Calibration:
    device: str
    path: Path
    fit: Fit
    errors: pd.DataFrame          # held-out error per kernel class and dtype


def calibrate_set(measured: str | Path, spec: str | None = None, engine: str | None = None,
                  out: str | Path | None = None, progress: bool = False) -> Calibration:
    """Fit the profile of one measurement set and save it (default
    `hwspecs/calibration/<device>.<engine>.yaml`), naming the device, engine and the records'
    checksum it was fitted on."""
    from datetime import UTC, datetime

    from simulator.core.profile import CALIBRATION_DIR, check_engine, default_profile
    from validation.measure.measured_sets import load_set

    s = load_set(measured, spec)
    frame, meta = s.measurements.frame, s.measurements.meta
    engine = check_engine(engine or meta.get("engine", "torch"))
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    cited = meta.get("source", {}).get("citation") if isinstance(meta.get("source"), dict) \
        else None
    # NB: named as fitted on this device from the start, so the collective stage fits the
    # scale-up latency even where the spec publishes one (the profile's own then prices it)
    start = replace(default_profile(s.device), fitted_on=s.device.name)
    fit = fit_profile(frame, s.device, start,
                      name=f"{s.device.name} {engine} fitted {date}",
                      source=f"archsim calibrate on {_repo_relative(s.measurements.csv_path)} "
                             f"(measured {meta.get('date', '?')}"
                             + (f"; {cited})" if cited else ")"),
                      progress=progress)
    profile = replace(fit.profile, fitted_on=s.device.name, engine=engine,
                      fitted_data=str(meta.get("sha256", "")),
                      provenance=f"fitted on {s.device.name} {engine} measurements")
    fit = replace(fit, profile=profile)
    path = save_profile(profile, out or CALIBRATION_DIR / f"{s.device.name}.{engine}.yaml")
    return Calibration(s.device.name, path, fit, error_table(frame, fit.predicted_s,
                                                              fit.holdout))


def _repo_relative(path: Path) -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def save_profile(profile: EfficiencyProfile, path: str | Path) -> Path:
    """Write a profile YAML that `simulator.core.profile.load_profile` reads back: every
    field, plain YAML types."""
    from dataclasses import asdict

    data = {k: _plain(v) for k, v in asdict(profile).items() if k != "ideal"}
    data["fitted"] = True
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
