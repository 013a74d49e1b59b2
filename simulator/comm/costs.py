"""Collective communication cost: alpha-beta collectives over a system's link levels.

    collective_time_s(system, "all_reduce", 1e9, group_size=8)          -> CommCost
    collective_costs(system, "all_gather", sizes, group_size=16, stride=8) -> CommCosts (arrays)

`kind` is one of all_reduce, all_gather, reduce_scatter, all_to_all, send_recv; `algorithm` is
one registered in `simulator.comm.collectives` for that kind, or "auto" for the fastest that
applies at each size. A group of `group_size` devices at `stride` holds devices 0, stride,
2*stride, ... (see `simulator.comm.placement`), which fixes the link levels it crosses. The size is
NCCL's (see `simulator.comm.collectives`), so bus bandwidths compare with nccl-tests' busbw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from hwspecs.schema import LinkLevel, System
from simulator.comm.collectives import (
    KINDS,
    LinearCost,
    algorithms,
    bus_factor,
    check_kind,
)
from simulator.comm.collectives import algorithm as find_algorithm
from simulator.comm.placement import check_group, place_on
from simulator.core.profile import EfficiencyProfile

__all__ = ["KINDS", "CommCost", "CommCosts", "LinearCost", "collective_costs",
           "all_reduce_times", "collective_models", "collective_overhead_s", "collective_time_s",
           "collective_times"]

NONE = "none"   # algorithm and level of a group of one: nothing moves


@dataclass(frozen=True)
class CommCost:
    """One collective: its time, the bytes each device sends, and NCCL-style bandwidths.

    `level` is the slowest link level the group crosses; bandwidths are 0 where nothing moves.
    """

    kind: str
    algorithm: str
    level: str
    group_size: int
    size_bytes: float
    time_s: float
    sent_bytes: float             # per device
    algbw_bytes_per_s: float      # size / time
    busbw_bytes_per_s: float      # algbw x NCCL's bus factor


@dataclass(frozen=True)
class CommCosts:
    """The same collective over an array of sizes (any shape); fields as in `CommCost`."""

    kind: str
    level: str
    group_size: int
    size_bytes: np.ndarray
    time_s: np.ndarray
    sent_bytes: np.ndarray
    algorithm: np.ndarray         # str, the algorithm used at each size
    algbw_bytes_per_s: np.ndarray
    busbw_bytes_per_s: np.ndarray


def collective_models(system: System, kind: str, group_size: int, stride: int = 1,
                      algorithm: str = "auto") -> tuple[str, dict[str, LinearCost]]:
    """(slowest level's name, {algorithm: linear cost}) for the algorithms that apply.

    For callers that evaluate many sizes themselves: time_s = latency_s + s_per_byte * size.
    A group of one gets no algorithms (it costs nothing).
    """
    level, models = _group_models(system, kind, group_size, stride, algorithm)
    return level, dict(models)


@lru_cache(maxsize=4096)
def _models(levels: tuple[LinkLevel, ...], num_devices: int, system_name: str, kind: str,
            size: int, stride: int, algorithm: str) -> tuple[str, tuple[tuple[str, LinearCost],
                                                                      ...]]:
    """Cached on the link levels (hashable), since plan search asks the same groups often."""
    named = None if algorithm == "auto" else find_algorithm(kind, algorithm)
    if size == 1:
        return NONE, ()
    p = place_on(levels, num_devices, system_name, size, stride)
    if named is not None:
        reason = named.why_not(p)
        if reason is not None:
            raise ValueError(f"algorithm {named.name!r} does not apply to {kind} over "
                             f"{size} devices at stride {stride}: {reason}")
        return p.level.name, ((named.name, named.cost(p)),)
    return p.level.name, tuple((a.name, a.cost(p)) for a in algorithms(kind)
                               if a.why_not(p) is None)


def collective_time_s(system: System, kind: str, size_bytes: float, group_size: int,
                      stride: int = 1, algorithm: str = "auto",
                      profile: EfficiencyProfile | None = None) -> CommCost:
    """The time of one collective of `size_bytes` over a group; "auto" takes the fastest.
    `profile`: the device's fitted profile, whose collective fit prices the scale-up link."""
    size = _check_size(size_bytes)
    level, models = _group_models(system, kind, group_size, stride, algorithm, profile)
    models = dict(models)
    if not models:
        return CommCost(kind, NONE, level, group_size, size, 0.0, 0.0, 0.0, 0.0)
    name, cost = min(models.items(), key=lambda item: _time(item[1], size))
    if size == 0.0:
        # NB: a zero-byte collective is skipped, as NCCL does, so it costs no latency.
        return CommCost(kind, name, level, group_size, size, 0.0, 0.0, 0.0, 0.0)
    time_s = _time(cost, size)
    algbw = size / time_s if time_s > 0 else 0.0
    return CommCost(kind, name, level, group_size, size, time_s, cost.sent_per_byte * size,
                    algbw, algbw * bus_factor(kind, group_size))


@dataclass(frozen=True)
class _Table:
    """The applicable algorithms of one group as arrays, for pricing many sizes at once."""

    names: np.ndarray            # (A,) str
    latency_s: np.ndarray        # (A, 1)
    s_per_byte: np.ndarray       # (A, 1)
    sent_per_byte: np.ndarray    # (A,)


@lru_cache(maxsize=4096)
def _table(models: tuple[tuple[str, LinearCost], ...]) -> _Table:
    costs = [c for _, c in models]
    return _Table(np.array([n for n, _ in models]),
                  np.array([[c.latency_s] for c in costs]),
                  np.array([[c.s_per_byte] for c in costs]),
                  np.array([c.sent_per_byte for c in costs]))


def collective_times(system: System, kind: str, sizes_bytes, group_size: int,
                     stride: int = 1, algorithm: str = "auto",
                     profile: EfficiencyProfile | None = None) -> np.ndarray:
    """The time of each collective of `sizes_bytes` (an array), the fastest algorithm at
    each size: what a step's cost needs (`collective_costs` says which and how much)."""
    sizes = _checked_sizes(sizes_bytes)
    level, models = _group_models(system, kind, group_size, stride, algorithm, profile)
    if not models:
        return np.zeros_like(sizes)
    t = _table(models)
    best = (t.latency_s + t.s_per_byte * sizes.reshape(-1)).min(axis=0).reshape(sizes.shape)
    return np.where(sizes > 0, best, 0.0)


def collective_overhead_s(profile: EfficiencyProfile, kind: str,
                          group_size: int | None = None) -> float:
    """The fixed cost of one collective call (launch and synchronization): the profile's
    fitted one for this collective (and group size), else its per-kernel overhead."""
    return profile.collective_fixed_s(kind, group_size)


# An engine's own all-reduce kernel (TensorRT-LLM, vLLM and SGLang each ship one: one or two
# shots over the scale-up link, no NCCL launch and protocol steps); its profile key.
CUSTOM_ALL_REDUCE = "custom_all_reduce"


def all_reduce_times(system: System, sizes_bytes, group_size: int,
                     profile: EfficiencyProfile) -> np.ndarray:
    """What a serving engine's tensor-parallel all-reduces cost, each with its fixed cost:
    NCCL's, or, where the engine's profile measured its own kernel and the group sits on the
    scale-up link, that kernel's whichever is faster (the engines pick by message size).

    The engine's kernel moves a ring's bytes (2 (n-1)/n x S per device) at its own fitted
    bandwidth efficiency, after its own fixed cost."""
    model = _model_all_reduce_times(system, _checked_sizes(sizes_bytes), group_size, profile)
    # The measured backend (`measured_pricing.MeasuredProfile`): measured messages as measured.
    reprice = getattr(profile, "reprice_collective", None)
    return model if reprice is None else reprice("all_reduce", sizes_bytes, group_size, model)


def _model_all_reduce_times(system: System, sizes: np.ndarray, group_size: int,
                            profile: EfficiencyProfile) -> np.ndarray:
    nccl = collective_times(system, "all_reduce", sizes, group_size, profile=profile) \
        + np.where(sizes > 0, collective_overhead_s(profile, "all_reduce", group_size), 0.0)
    efficiency = profile.collective_efficiency_for(CUSTOM_ALL_REDUCE, group_size)
    levels = system.levels
    if efficiency is None or not levels or group_size > levels[0].group_size:
        return nccl
    ring = _engine_ring(levels[0], efficiency, system.name, group_size)
    if ring is None:
        return nccl
    custom = collective_overhead_s(profile, CUSTOM_ALL_REDUCE, group_size) \
        + ring.s_per_byte * sizes
    return np.where(sizes > 0, np.minimum(nccl, custom), 0.0)


@lru_cache(maxsize=1024)
def _engine_ring(level: LinkLevel, efficiency: float, system_name: str, group_size: int
                 ) -> LinearCost | None:
    """The engine's own all-reduce as a ring over the scale-up level at its fitted
    efficiency, without the link's per-step latency (its fixed cost is the profile's)."""
    inner = (replace(level, efficiency=efficiency, latency_s=0.0),)
    _, models = _models(inner, level.group_size, system_name, "all_reduce",
                        *check_group(group_size, 1), "ring")
    return dict(models).get("ring")


def _checked_sizes(sizes_bytes) -> np.ndarray:
    sizes = np.asarray(sizes_bytes, dtype=float)
    if sizes.size and not (np.isfinite(sizes).all() and (sizes >= 0).all()):
        raise ValueError("sizes_bytes must all be finite and non-negative")
    return sizes


def _group_models(system: System, kind: str, group_size: int, stride: int, algorithm: str,
                  profile: EfficiencyProfile | None = None):
    check_kind(kind)
    size, stride = check_group(group_size, stride)
    levels = system.levels
    if profile is not None and (profile.collective_efficiency or profile.collective_latency_s):
        own = profile.fitted_on == system.device.name     # fitted on this very device
        levels = _fitted_levels(levels, profile.collective_efficiency_for(kind, size),
                                profile.collective_latency_s, own)
    return _models(levels, system.num_devices, system.name, kind, size, stride, algorithm)


@lru_cache(maxsize=1024)
def _fitted_levels(levels: tuple[LinkLevel, ...], efficiency: float | None,
                   latency_s: float, own: bool) -> tuple[LinkLevel, ...]:
    """The scale-up level (the innermost) as the device's fitted profile measured it: its
    bandwidth efficiency for this collective, and its per-step latency where the profile was
    fitted on this device or the spec publishes none."""
    if not levels:
        return levels
    inner = levels[0]
    changes = {}
    if efficiency is not None:
        changes["efficiency"] = efficiency
    if latency_s > 0 and (own or inner.latency_s == 0):
        changes["latency_s"] = latency_s
    return (replace(inner, **changes),) + levels[1:] if changes else levels


def collective_costs(system: System, kind: str, sizes_bytes, group_size: int, stride: int = 1,
                     algorithm: str = "auto",
                     profile: EfficiencyProfile | None = None) -> CommCosts:
    """`collective_time_s` over an array of sizes (any shape) at once, with the algorithm,
    bytes sent and bandwidths of each."""
    sizes = _checked_sizes(sizes_bytes)
    level, models = _group_models(system, kind, group_size, stride, algorithm, profile)
    if not models:
        zeros = np.zeros_like(sizes)
        return CommCosts(kind, level, group_size, sizes, zeros, zeros.copy(),
                         np.full(sizes.shape, NONE), zeros.copy(), zeros.copy())
    t = _table(models)
    flat = sizes.reshape(-1)
    times = t.latency_s + t.s_per_byte * flat          # one row per algorithm
    best = np.argmin(times, axis=0)                    # ties go to the first registered
    moved = flat > 0
    time_s = np.where(moved, times.min(axis=0), 0.0)
    algbw = flat / np.where(time_s > 0, time_s, np.inf)
    shape = sizes.shape
    return CommCosts(kind, level, group_size, sizes, time_s.reshape(shape),
                     np.where(moved, t.sent_per_byte[best] * flat, 0.0).reshape(shape),
                     t.names[best].reshape(shape), algbw.reshape(shape),
                     (algbw * bus_factor(kind, group_size)).reshape(shape))


def _time(cost: LinearCost, size: float) -> float:
    return cost.latency_s + cost.s_per_byte * size


def _check_size(size_bytes: float) -> float:
    try:
        size = float(size_bytes)
    except (TypeError, ValueError):
        size = float("nan")
    if not np.isfinite(size) or size < 0:
        raise ValueError(f"size_bytes must be a finite, non-negative number, not {size_bytes!r}")
    return size
