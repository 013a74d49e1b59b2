"""The measured backend: kernels priced from the imported measurements where they cover them.

`Options(kernels=KernelSource.MEASURED)` makes `Options.profile_for` return a
`MeasuredProfile`: the fitted profile plus the measured grids of that device and engine
(`measured_tables`). The pricing core prices every kernel with the model as always, then hands
its times to `MeasuredProfile.reprice`, which replaces each covered kernel's time by the
measured one (its compute, memory and overhead parts scaled alike, so parts still sum to the
total); TP all-reduces go the same way in `comm.costs.all_reduce_times`. Every other kernel
keeps the model's time, and `kernel_check` says which and why.

NB: with V spec variants (sweeps, what-ifs) a covered kernel's measured time is scaled by each
variant's model time over the unscaled device's: the measurement moves with the what-if. A
what-if copy of a shipped device (`DeviceSpec.scaled`, or a spec file reusing its name) moves
the same way: its measured times are scaled by its model time over the shipped device's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import pandas as pd

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import OpArrays
from simulator.core.measured_tables import (
    FALLBACKS,
    Fallback,
    KernelLookup,
    MeasuredKernels,
    measured_kernels,
)
from simulator.core.precision import Precision
from simulator.core.profile import DEFAULT_ENGINE, EfficiencyProfile


class KernelSource(enum.Enum):
    """What prices a kernel: the fitted model, or the measurements where they cover it."""

    MODEL = "model"
    MEASURED = "measured"


def parse_kernels(text: str | None) -> tuple[KernelSource, str | None]:
    """`model`, `measured` or `measured:DIR` as (source, DIR or None)."""
    text = (text or "model").strip()
    head, sep, folder = text.partition(":")
    try:
        source = KernelSource(head)
    except ValueError:
        raise ValueError(f"--kernels {text!r}: use model, measured or measured:DIR") from None
    if source is KernelSource.MODEL and folder:
        raise ValueError(f"--kernels {text!r}: only measured takes a folder (measured:DIR)")
    if source is KernelSource.MEASURED and sep and not folder:
        raise ValueError(f"--kernels {text!r}: name the folder after measured:")
    return source, folder or None


def kernel_fields(text: str | None) -> dict:
    """`--kernels` text as the `kernels` and `kernels_dir` fields `Options`, `CapacityQuery`
    and `FrontierQuery` take: `Options(..., **kernel_fields(args.kernels))`."""
    source, folder = parse_kernels(text)
    return {"kernels": source, "kernels_dir": folder}


@dataclass(frozen=True, eq=False)
class MeasuredProfile(EfficiencyProfile):
    """A fitted profile that also carries the measured grids of its device and engine."""

    measured: MeasuredKernels | None = None
    model: EfficiencyProfile | None = None      # the same profile, without the grids

    def __eq__(self, other) -> bool:
        return self is other

    __hash__ = object.__hash__

    def reprice(self, a: OpArrays, device: DeviceSpec, traced: DType, precision: Precision,
                variants, times):
        """The pricing core's times with every covered kernel at its measured time."""
        found = lookup(self.measured, a, traced, precision)
        if not found.measured.any():
            return times
        from simulator.core.pricing import KernelTimes, price

        measured_on = measured_spec(device)
        base = times.time_s[0] if variants is None and measured_on is device else \
            price(a, measured_on, self.model, traced, precision).time_s[0]
        ok = found.measured & (base > 0)
        ratio = np.where(ok, found.seconds / np.where(base > 0, base, 1.0), 1.0)
        return KernelTimes(compute_s=times.compute_s * ratio, memory_s=times.memory_s * ratio,
                           overhead_s=times.overhead_s * ratio, time_s=times.time_s * ratio,
                           busy_s=times.busy_s * ratio, bound=times.bound, flops=times.flops,
                           bytes=times.bytes)

    def reprice_collective(self, kind: str, sizes_bytes: np.ndarray, group_size: int,
                           model_s: np.ndarray) -> np.ndarray:
        """A collective's model times with the measured ones where the tables cover them."""
        seconds, _ = self.measured.collective_s(kind, sizes_bytes, group_size)
        shaped = np.asarray(model_s, dtype=float)
        return np.where(np.isnan(seconds), shaped.reshape(-1), seconds).reshape(shaped.shape)


def measured_spec(device: DeviceSpec) -> DeviceSpec:
    """The spec of the device the measurements of `device.name` were taken on: the shipped
    one where `device` is a what-if copy of it, else `device` itself."""
    shipped = _shipped(device.name)
    if shipped is None or shipped is device or shipped == device:
        return device
    return shipped


@lru_cache(maxsize=64)
def _shipped(name: str) -> DeviceSpec | None:
    from hwspecs import device_names, load_device

    return load_device(name) if name in device_names() else None


_LOOKUPS: dict[tuple, tuple[OpArrays, KernelLookup]] = {}


def lookup(measured: MeasuredKernels, a: OpArrays, traced: DType, precision: Precision
           ) -> KernelLookup:
    """`measured.lookup`, kept per arrays object (checked by identity) and precision."""
    key = (id(measured), id(a), traced, precision)
    hit = _LOOKUPS.get(key)
    if hit is None or hit[0] is not a:
        if len(_LOOKUPS) > 256:
            _LOOKUPS.clear()
        hit = (a, measured.lookup(a, traced, precision))
        _LOOKUPS[key] = hit
    return hit[1]


def forget_lookups() -> None:
    """Drop the kept lookups (a benchmark timing the first lookup of every kernel)."""
    _LOOKUPS.clear()
    for _, profile in _PROFILES.values():
        profile.measured._collective_cache.clear()


_PROFILES: dict[tuple, tuple[EfficiencyProfile, MeasuredProfile]] = {}


def with_measured(profile: EfficiencyProfile, device: DeviceSpec, engine: str | None,
                  directory: str | None = None) -> MeasuredProfile:
    """`profile` with the measured grids of `device` under `engine` (the profile's own engine,
    else the default), the same object for the same inputs."""
    engine = engine or profile.engine or DEFAULT_ENGINE
    grids = measured_kernels(device.name, engine, directory)
    key = (id(profile), id(grids))
    hit = _PROFILES.get(key)
    if hit is None or hit[0] is not profile:
        values = {f.name: getattr(profile, f.name) for f in fields(EfficiencyProfile)}
        hit = (profile, MeasuredProfile(**values, measured=grids, model=profile))
        _PROFILES[key] = hit
    return hit[1]


def kernel_check(a: OpArrays, counts: np.ndarray, device: DeviceSpec,
                 profile: EfficiencyProfile, traced: DType, precision: Precision
                 ) -> pd.DataFrame:
    """Every distinct kernel of `a` (each standing for `counts` kernels) priced both ways:
    the fitted model and the measurements (NaN where they do not cover it), what the
    measured backend prices it at, and why it fell back."""
    from simulator.core.pricing import price

    model = profile.model if isinstance(profile, MeasuredProfile) else profile
    grids = profile.measured if isinstance(profile, MeasuredProfile) else None
    model_s = price(a, device, model, traced, precision).time_s[0]
    if grids is None:
        grids = MeasuredKernels(device.name, profile.engine or DEFAULT_ENGINE)
    found = lookup(grids, a, traced, precision)
    return check_frame(a.names, a.kernel_class, counts, _shapes(a), model_s, found)


def workload_kernel_check(w, device: DeviceSpec, options) -> pd.DataFrame:
    """`kernel_check` of a workload's distinct kernels on one device under `options`."""
    from simulator.core.distinct import distinct_of

    d = distinct_of(w)
    return kernel_check(d.ops, d.counts, device, options.profile_for(device), w.dtype,
                        options.precision)


def check_frame(names, classes, counts, shapes, model_s, found: KernelLookup) -> pd.DataFrame:
    measured_s = np.where(found.measured & (model_s > 0), found.seconds, np.nan)
    reason = np.where(np.isnan(measured_s) & found.measured, _VIEW, found.reasons())
    return pd.DataFrame({
        "kernel": list(names), "kernel_class": list(classes),
        "count": np.asarray(counts, dtype=float), "shape": list(shapes),
        "model_s": model_s, "measured_s": measured_s,
        "priced_s": np.where(np.isnan(measured_s), model_s, measured_s),
        "source": np.where(np.isnan(measured_s), "model", "measured"), "reason": reason})


_VIEW = "costs nothing (a view)"


def _shapes(a: OpArrays) -> list[str]:
    out = []
    for i, cls in enumerate(a.kernel_class):
        m, n, k, b = (int(x) for x in (a.m[i], a.n[i], a.k[i], a.batch[i]))
        if cls == "gemm":
            out.append(f"{m}x{n}x{k}" + (f" x{b}" if b > 1 else ""))
        elif cls.startswith("attention"):
            out.append(f"q{m} kv{n} d{k} bh{b}")
        else:
            out.append(f"{a.total_bytes[i]:.3g} B")
    return out


def measured_share(frame: pd.DataFrame, weight: np.ndarray | None = None) -> dict:
    """From `kernel_check` rows (weighted by `weight` on top of their counts): the fraction of
    the predicted time priced from measurements, overall and per kernel class, and the
    kernels that fell back and why (largest share of the time first)."""
    w = frame["count"].to_numpy() * (1.0 if weight is None else np.asarray(weight))
    t = frame["priced_s"].to_numpy() * w
    total = float(t.sum())
    measured = frame["source"].to_numpy() == "measured"
    by_class = {}
    for cls in sorted(set(frame["kernel_class"])):
        rows = frame["kernel_class"].to_numpy() == cls
        part = float(t[rows].sum())
        by_class[cls] = float(t[rows & measured].sum()) / part if part > 0 else 0.0
    back = frame.assign(time_share=t / total if total > 0 else 0.0)[~measured]
    back = back[back["time_share"] > 0].sort_values("time_share", ascending=False)
    return {"measured_share": float(t[measured].sum()) / total if total > 0 else 0.0,
            "measured_share_by_class": by_class,
            "fell_back": [{"kernel": r.kernel, "kernel_class": r.kernel_class,
                           "reason": r.reason, "time_share": float(r.time_share)}
                          for r in back.itertuples()]}


__all__ = ["FALLBACKS", "Fallback", "KernelSource", "MeasuredProfile", "kernel_check",
           "kernel_fields", "measured_share", "parse_kernels", "with_measured",
           "workload_kernel_check"]
