"""Pipeline parallelism: stages, the schedule's bubble, in-flight micro-batches, p2p sends.

With p stages, m micro-batches per step and a per-micro-batch stage time T (forward +
backward of the slowest stage):
- 1F1B (PipeDream-flush): step = (m + p - 1) T; the bubble is (p - 1) T, a fraction
  (p - 1) / (m + p - 1) of the step.
- interleaved with v model chunks per stage: the bubble shrinks to (p - 1) T / v, a fraction
  (p - 1) / (v m + p - 1), for v times the point-to-point sends.
Megatron-LM's layout: the embedding on the first stage, the final norm, vocabulary projection
and loss on the last, the layers split evenly when pp divides them. Otherwise (`stage_layers`)
each stage takes floor(L / p) or ceil(L / p) layers, the shorter stages being the first and
the last (they also hold the embedding and the head), then the ones next to them, inward:
Llama 3 405B's PP 16 over 126 layers is 7, 8 x 14, 7 (Llama 3 paper, section 3.3.2: "we
reduce one Transformer layer each from the first and the last stages"). `Plan.pp_layers`
gives any other split (Megatron-LM's --decoder-first/last-pipeline-num-layers). The slowest
stage sets the pace and the bubble, from the real split.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hwspecs.schema import System
from simulator.comm.costs import collective_time_s
from simulator.core.profile import EfficiencyProfile
from simulator.parallel.plan import Plan, Schedule


def bubble_fraction(p: int, m: int, v: int = 1) -> float:
    """Share of the step a stage sits idle: (p - 1) / (v m + p - 1)."""
    if p < 1 or m < 1 or v < 1:
        raise ValueError("stages, micro-batches and virtual stages must each be at least 1")
    return (p - 1) / (v * m + p - 1)


def pipeline_time_s(stage_s: float, p: int, m: int, v: int = 1) -> tuple[float, float]:
    """(the pipeline's time for m micro-batches, its bubble) from the slowest stage's time
    per micro-batch."""
    # NB: the slowest stage sets the pace; faster stages wait on it, which counts as bubble
    # only through this max (imbalanced stages are not simulated step by step).
    bubble = (p - 1) * stage_s / v
    return m * stage_s + bubble, bubble


def in_flight(plan: Plan) -> float:
    """Micro-batches whose activations the first stage holds at once (the memory peak).

    1F1B keeps p in flight (at most m); interleaving keeps p + (p - 1) / v chunks' worth,
    i.e. (1 + (p - 1) / (p v)) times that (Korthikanti et al. 2022).
    """
    p, m, v = plan.pp, plan.micro_batches, plan.vp
    if p == 1:
        return 1.0
    if plan.pipeline_schedule is Schedule.INTERLEAVED:
        return min(float(m), p + (p - 1) / v)
    return float(min(p, m))


def stage_layers(layers: int, pp: int, split: tuple[int, ...] | None = None
                 ) -> tuple[int, ...]:
    """Layers of each stage, first to last: `split` when given, else as even as possible with
    the shorter stages at the ends (see the module doc)."""
    if split is not None:
        return tuple(split)
    pp = max(min(pp, layers), 1)
    base, extra = divmod(layers, pp)
    counts = [base + 1] * pp
    inward = [i // 2 if i % 2 == 0 else pp - 1 - i // 2 for i in range(pp)]
    for stage in inward[:pp - extra] if extra else ():
        counts[stage] = base
    return tuple(counts) if extra else (base,) * pp


@lru_cache(maxsize=256)
def stage_of_slot(layers: int, pp: int, split: tuple[int, ...] | None = None) -> np.ndarray:
    """Stage of each slot: slot 0 (before the stack) on the first stage, slot l+1 (layer l)
    on the stage `stage_layers` puts it, the last slot (after the stack) on the last stage.
    (Cached and read-only.)"""
    counts = stage_layers(layers, pp, split)
    inner = np.repeat(np.arange(len(counts)), counts)[:layers]
    if inner.size < layers:              # a split short of the layers: the rest on the last
        inner = np.concatenate((inner, np.full(layers - inner.size, len(counts) - 1)))
    out = np.concatenate(([0], inner, [pp - 1])).astype(np.int64)
    out.flags.writeable = False
    return out


def per_stage(slot_values: np.ndarray, layers: int, pp: int,
              split: tuple[int, ...] | None = None) -> np.ndarray:
    """Sum per-slot values (length layers + 2) into per-stage values (length pp)."""
    return np.bincount(stage_of_slot(layers, pp, split), weights=slot_values, minlength=pp)


def p2p_time_s(system: System, plan: Plan, activation_bytes: float,
               profile: EfficiencyProfile | None = None) -> float:
    """One stage's send and receive of one micro-batch's boundary activations, forward and
    backward together (v of each per micro-batch when interleaved)."""
    if plan.pp == 1 or activation_bytes <= 0:
        return 0.0
    stride = plan.tp * plan.cp * plan.dp
    one = collective_time_s(system, "send_recv", activation_bytes, plan.pp, stride,
                            profile=profile).time_s
    return 2.0 * plan.vp * one
