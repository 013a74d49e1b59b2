"""Price one workload on many variants of a device at once, by numpy broadcasting.

Rows are variants (V), columns are kernels (n): every (V, n) array repeats the arithmetic of
`roofline.price` and `simulate` in the same order, so each point equals the single
`simulate(workload, device.scaled(**variant), options)` call to the last bit. A chunk's
multi-GPU plans are priced on the same arrays by `sweep_plans`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator.core.arrays import PASSES, OpArrays, to_arrays
from simulator.core.cost import CostOptions
from simulator.core.distinct import Distinct, distinct_ops
from simulator.core.efficiency import attention_efficiency, gemm_efficiency, memory_efficiency
from simulator.core.memory import Recompute, footprint, max_batch
from simulator.core.precision import Precision
from simulator.core.roofline import ATTN_CODE, BOUNDS, VIEW_CODE, dequant_flops, peaks, scaled_bytes
from simulator.core.simulate import SimOptions, recompute_rows, resolve_profile
from simulator.sweep.grid import (
    SINGLE,
    VARIANT_FACTORS,
    ChunkKey,
    Grid,
    plan_label,
    variant_label,
)
from workloads.op import Pass, Phase, Workload

_OPTIMIZER = PASSES.index(Pass.OPTIMIZER)
_SECONDS_PER_HOUR = 3600.0
_HOURS_PER_YEAR = 8766.0
_J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class Factors:
    """Variant multipliers as (V,) arrays."""

    matrix: np.ndarray
    vector: np.ndarray
    mem_bw: np.ndarray
    mem_capacity: np.ndarray
    link: np.ndarray
    price: np.ndarray
    power: np.ndarray

    @classmethod
    def of(cls, variants: list[dict[str, float]]) -> Factors:
        return cls(**{name: np.array([v.get(name, 1.0) for v in variants], dtype=float)
                      for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class KernelInputs:
    """Per-op inputs that do not change across variants of one device at one precision."""

    flops: np.ndarray
    on_matrix: np.ndarray
    view: np.ndarray
    matrix_peak: np.ndarray      # on the base device
    vector_peak: np.ndarray
    matrix_follows: np.ndarray   # (n, 2) bool: the peak scales with the matrix / vector factor
    vector_follows: np.ndarray
    eff: np.ndarray
    extra_flops: np.ndarray
    moved: np.ndarray
    mem_eff: np.ndarray




def _follows(base: np.ndarray, by_matrix: np.ndarray, by_vector: np.ndarray) -> np.ndarray:
    return np.stack([by_matrix != base, by_vector != base], axis=1)


def kernel_inputs(a: OpArrays, w: Workload, device: DeviceSpec, profile,
                  precision: Precision) -> KernelInputs:
    traced = w.dtype
    mp, vp = peaks(a, device, traced, precision, profile)
    # Probe which spec table each op's peak comes from (vector ops on TPUs use a matrix peak).
    mp_m, vp_m = peaks(a, device.scaled(matrix=2.0), traced, precision, profile)
    mp_v, vp_v = peaks(a, device.scaled(vector=2.0), traced, precision, profile)
    eff = np.where(a.kind == ATTN_CODE,
                   attention_efficiency(a.m, a.n, a.k, a.batch, device.compute_units, profile),
                   gemm_efficiency(a.m, a.n, a.k, a.batch, device.compute_units, profile))
    moved = scaled_bytes(a, traced, precision)
    return KernelInputs(flops=a.flops, on_matrix=a.on_matrix, view=a.kind == VIEW_CODE,
                        matrix_peak=mp, vector_peak=vp,
                        matrix_follows=_follows(mp, mp_m, mp_v),
                        vector_follows=_follows(vp, vp_m, vp_v), eff=eff,
                        extra_flops=dequant_flops(a, traced, precision, profile), moved=moved,
                        mem_eff=memory_efficiency(moved, profile))


def _scaled_peak(peak: np.ndarray, follows: np.ndarray, f: Factors) -> np.ndarray:
    """(V, u): base peak times the factor of the table it comes from (v * k, as `scaled`)."""
    k = np.where(follows[:, 0], f.matrix[:, None],
                 np.where(follows[:, 1], f.vector[:, None], 1.0))
    return peak * k


def op_times(b: KernelInputs, device: DeviceSpec, profile, f: Factors):
    """The (V, u) arrays of `roofline.price` for distinct kernels, in its order of operations."""
    on_matrix = b.on_matrix
    matrix_rate = _scaled_peak(b.matrix_peak, b.matrix_follows, f) * b.eff
    vector_rate = _scaled_peak(b.vector_peak, b.vector_follows, f) * profile.vector_fraction
    with np.errstate(divide="ignore", invalid="ignore"):
        compute_s = np.where(on_matrix, b.flops / np.where(on_matrix, matrix_rate, 1.0),
                             b.flops / vector_rate)
        compute_s = compute_s + b.extra_flops / vector_rate
    bw = device.mem_bw_bytes_per_s * f.mem_bw
    memory_s = b.moved / (bw[:, None] * b.mem_eff)
    overhead_s = np.where(b.view, 0.0, profile.kernel_overhead_s)
    compute_s = np.where(b.view, 0.0, compute_s)
    memory_s = np.where(b.view, 0.0, memory_s)
    busy = np.maximum(compute_s, memory_s)
    bound = np.where(overhead_s > busy, 2, np.where(compute_s >= memory_s, 0, 1))
    return compute_s, memory_s, overhead_s, busy + overhead_s, bound, busy


def row_sums(per_kernel: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Expand (V, u) to the (V, n) kernels in order and sum each row.

    C order, so each row sums pairwise in the same order as the 1-D sums in `simulate`."""
    return np.ascontiguousarray(np.take(per_kernel, columns, axis=1)).sum(axis=1)


def _power_w(device: DeviceSpec, busy_fraction: np.ndarray, f: Factors,
             options: CostOptions) -> np.ndarray:
    if device.tdp_w is None:
        return np.full(len(f.power), np.nan)
    tdp = device.tdp_w * f.power
    idle = device.idle_w * f.power if device.idle_w is not None \
        else tdp * options.idle_fraction_of_tdp
    return idle + (tdp - idle) * np.clip(busy_fraction, 0.0, 1.0)


def _usd_per_hour(device: DeviceSpec, watts: np.ndarray, f: Factors,
                  options: CostOptions) -> np.ndarray:
    nan = np.full(len(f.price), np.nan)
    if options.pricing == "rent":
        if device.rent_usd_per_s is None:
            return nan
        return device.rent_usd_per_s * f.price * _SECONDS_PER_HOUR
    if device.purchase_price_usd is None:
        return nan
    capital = device.purchase_price_usd * f.price / (
        options.years * _HOURS_PER_YEAR * options.utilization)
    return capital + watts * options.pue * _SECONDS_PER_HOUR / _J_PER_KWH * options.usd_per_kwh


def cost_columns(device: DeviceSpec, time_s: np.ndarray, busy_s: np.ndarray, tokens: float,
                 f: Factors, options: CostOptions, devices: int = 1) -> dict[str, np.ndarray]:
    """`cost.summarize` per point, vectorized: power, energy and dollars of all `devices`."""
    with np.errstate(divide="ignore", invalid="ignore"):
        one = _power_w(device, np.where(time_s > 0, busy_s / time_s, 0.0), f, options)
        watts = one * devices
        energy = watts * time_s
        hourly = _usd_per_hour(device, one, f, options) * devices
        usd_1m = hourly / _SECONDS_PER_HOUR * time_s / tokens * 1e6 if tokens > 0 \
            else np.full(len(time_s), np.nan)
        jpt = energy / tokens if tokens > 0 else np.full(len(time_s), np.nan)
    return {"power_w": watts, "energy_j": energy, "j_per_token": jpt, "usd_per_hour": hourly,
            "usd_per_1m_tokens": usd_1m}


def evaluate_device(w: Workload, device: DeviceSpec, variants: list[dict[str, float]] | Factors,
                    options: SimOptions, distinct: Distinct | None = None
                    ) -> dict[str, np.ndarray]:
    """Every metric of `Report.summary()` that a sweep keeps, one row per variant.

    Pass `distinct` (from `distinct_ops`) and `Factors` when pricing one workload many times."""
    a = to_arrays(w)
    profile = resolve_profile(device, options)
    precision = options.precision
    f = variants if isinstance(variants, Factors) else Factors.of(variants)
    d = distinct or distinct_ops(a)
    inverse, counts = d.inverse, d.counts
    b = kernel_inputs(d.ops, w, device, profile, precision)
    compute_s, memory_s, overhead_s, time_s, bound, busy = op_times(b, device, profile, f)
    train = w.phase is Phase.TRAIN
    recompute = recompute_rows(a, options.recompute) if train else np.zeros(len(a), bool)
    recompute_s = row_sums(time_s, inverse[recompute])
    total_s = row_sums(time_s, inverse) + recompute_s
    busy_s = row_sums(busy, inverse) + recompute_s
    flops = (b.flops + b.extra_flops)[inverse]
    capacity = device.mem_capacity_bytes * f.mem_capacity
    mem = footprint(a, w, precision, device.mem_capacity_bytes, options.recompute)
    out = {
        "time_s": total_s, "compute_s": row_sums(compute_s, inverse),
        "memory_s": row_sums(memory_s, inverse),
        "overhead_s": np.full(len(total_s), float(overhead_s[inverse].sum())),
        "recompute_s": recompute_s, "bound": dominant_bound(time_s, bound, counts),
        "flops": np.full(len(f.matrix), float(flops.sum() + flops[recompute].sum())),
        "bytes": np.full(len(f.matrix), float(b.moved[inverse].sum())),
        "memory_bytes": np.full(len(f.matrix), mem.total_bytes),
        "memory_capacity_bytes": capacity, "feasible": mem.total_bytes <= capacity,
        "tokens_per_s": w.tokens / total_s,
        **cost_columns(device, total_s, busy_s, w.tokens, f, options.cost),
    }
    model_flops = float(a.flops[a.pass_ != _OPTIMIZER].sum())
    peak = device.matrix_peak(precision.activations) * f.matrix
    out["mfu"] = model_flops / (total_s * peak) if train else np.full(len(total_s), np.nan)
    out["max_batch"] = np.full(len(total_s), -1, dtype=np.int64) if train else \
        _max_batches(a, w, precision, capacity)
    return out


def dominant_bound(time_s: np.ndarray, bound: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The bound holding the largest share of each variant's time.

    NB: shares are summed as count x time per distinct kernel; only near-exact ties can differ
    from `Report.bound`."""
    shares = np.stack([np.where(bound == i, time_s, 0.0) @ counts for i in range(3)], axis=1)
    return np.asarray(BOUNDS, dtype=object)[np.argmax(shares, axis=1)]


def _max_batches(a: OpArrays, w: Workload, precision: Precision,
                 capacity: np.ndarray) -> np.ndarray:
    """`memory.max_batch` once per distinct capacity (few: the mem_capacity factors)."""
    values, inverse = np.unique(capacity, return_inverse=True)
    fits = np.array([max_batch(a, w, precision, float(c)) for c in values], dtype=np.int64)
    return fits[inverse]



METRICS = ("time_s", "compute_s", "memory_s", "overhead_s", "recompute_s", "bound", "flops",
           "bytes", "memory_bytes", "memory_capacity_bytes", "feasible", "tokens_per_s",
           "power_w", "energy_j", "j_per_token", "usd_per_hour", "usd_per_1m_tokens", "mfu",
           "max_batch")
COLUMNS = (*METRICS, "comm_s")   # every point's metrics: comm_s is 0 on one device


def failed(n: int) -> dict[str, np.ndarray]:
    """A point that cannot run at all (a precision the device lacks, an impossible plan): the
    points stay, with the reason in `error`."""
    out = {m: np.full(n, np.nan) for m in METRICS}
    out.update(bound=np.full(n, "", dtype=object), feasible=np.zeros(n, bool),
               max_batch=np.full(n, -1, dtype=np.int64), comm_s=np.full(n, np.nan))
    return out


def _single(w: Workload, device: DeviceSpec, factors: Factors, options: SimOptions,
            distinct: Distinct) -> tuple[dict[str, np.ndarray], str]:
    """The single-device points (the default plan): `simulate`, no communication."""
    try:
        out = evaluate_device(w, device, factors, options, distinct)
    except ValueError as e:
        return failed(len(factors.matrix)), str(e)
    return {**out, "comm_s": np.zeros(len(factors.matrix))}, ""


def evaluate_chunk(grid: Grid, key: ChunkKey):
    """All points of one workload shape as a DataFrame: devices x plans x precisions x
    variants."""
    import pandas as pd

    from hwspecs import load_device
    from simulator.sweep.plans import PlanPoints
    from workloads import get_workload

    w = get_workload(key.model, key.phase, key.batch, key.seq, key.context)
    n = len(grid.variants)
    factors = Factors.of([dict(v) for v in grid.variants])
    distinct = distinct_ops(to_arrays(w))
    plans = PlanPoints(grid, key, w, factors)
    labels = np.array([variant_label(v) for v in grid.variants], dtype=object)
    parts = []
    for ref in grid.devices:
        device = load_device(ref)
        for item in grid.plans:
            options = [SimOptions(precision=precision, ideal=grid.ideal,
                                  recompute=Recompute.parse(grid.recompute),
                                  cost=grid.cost_options()) for precision in grid.precisions]
            if item == SINGLE:
                gpus, tokens = 1, w.tokens
                points = [_single(w, device, factors, o, distinct) for o in options]
            else:
                gpus, tokens, points = plans.points(ref, item, options)
            for precision, (metrics, error) in zip(grid.precisions, points, strict=True):
                parts.append({
                    "chunk": np.full(n, key.index), "model": np.full(n, key.model, object),
                    "phase": np.full(n, key.phase, object), "batch": np.full(n, key.batch),
                    "seq": np.full(n, key.seq), "context": np.full(n, key.context),
                    "device": np.full(n, device.name, object),
                    "plan": np.full(n, plan_label(item), object), "gpus": np.full(n, gpus),
                    "precision": np.full(n, precision.label, object), "variant": labels,
                    **{name: getattr(factors, name) for name in VARIANT_FACTORS},
                    "tokens": np.full(n, tokens), **{m: metrics[m] for m in COLUMNS},
                    "error": np.full(n, error, object)})
    return pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})
