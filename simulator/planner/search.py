"""Plan search: every plan in a space, priced, ranked; and why the others were refused.

    result = search_training(prepare(workload, system), gpus=64, global_batch=512)
    result.ranked[0].plan, result.refusal_counts()

Training plans are priced with `simulator.training.step.evaluate`, which reuses one pricing per
sharding (tp, sp, cp, ep, micro-batch) across every pp, dp, ZeRO and recompute choice, so a
search costs little more than its distinct shardings. A plan is refused for breaking a rule
(`PlanError.kind`: heads, layers, batch, ...) or for not fitting in memory ("memory").
Each ranked plan carries its plan family's published error (`simulator.planner.families`):
`result.uncertainty[i]` for `result.ranked[i]`, marked where the family is unvalidated or off.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from simulator.core.memory import Recompute
from simulator.core.options import Options
from simulator.inference.request import InferenceWorkloads, simulate_inference
from simulator.parallel.plan import Plan, PlanError
from simulator.planner.families import FamilyError, plan_uncertainty
from simulator.training.slots import Prepared
from simulator.training.step import evaluate

OBJECTIVES = ("throughput", "cost")


@dataclass(frozen=True)
class Refusal:
    plan: Plan
    kind: str         # the rule it breaks, or "memory"
    reason: str


@dataclass(frozen=True)
class SearchResult:
    """Feasible reports, best first, the refused plans, and each ranked plan's family error
    (`uncertainty[i]` for `ranked[i]`)."""

    ranked: tuple
    refused: tuple[Refusal, ...]
    objective: str
    uncertainty: tuple[FamilyError, ...] = ()

    @property
    def evaluated(self) -> int:
        return len(self.ranked) + len(self.refused)

    def refusal_counts(self) -> list[tuple[str, int, str]]:
        """(kind, how many, one example reason) per kind, most common first."""
        counts = Counter(r.kind for r in self.refused)
        example = {r.kind: r.reason for r in reversed(self.refused)}
        return [(kind, n, example[kind]) for kind, n in counts.most_common()]


@dataclass(frozen=True)
class TrainSpace:
    """Choices per dimension; None: the defaults of `train_space` (see there)."""

    tp: tuple[int, ...] | None = None
    pp: tuple[int, ...] | None = None
    cp: tuple[int, ...] = (1,)
    ep: tuple[int, ...] = (1,)
    zero: tuple[int, ...] = (0, 1, 2, 3)
    micro_batch: tuple[int, ...] | None = None
    sp: tuple[bool, ...] = (False, True)
    recompute: tuple[Recompute, ...] = tuple(Recompute)
    vp: tuple[int, ...] = (1,)
    extra: dict = field(default_factory=dict)   # other Plan fields, fixed (overlap, ...)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _powers_of_two(limit: int) -> list[int]:
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def train_space(gpus: int, global_batch: int, devices_per_node: int,
                space: TrainSpace | None = None) -> Iterator[Plan]:
    """Every plan of the space on exactly `gpus` GPUs. Defaults: tp over the divisors of gpus
    within one node, pp over the divisors of gpus, micro-batches in powers of two."""
    s = space or TrainSpace()
    tps = s.tp or tuple(d for d in _divisors(gpus) if d <= max(devices_per_node, 1))
    pps = s.pp or tuple(_divisors(gpus))
    for tp, pp, cp in itertools.product(tps, pps, s.cp):
        if gpus % (tp * pp * cp):
            continue
        dp = gpus // (tp * pp * cp)
        mbs = s.micro_batch or tuple(_powers_of_two(max(global_batch // dp, 1)))
        for ep, zero, mb, sp, rc, vp in itertools.product(s.ep, s.zero, mbs, s.sp,
                                                          s.recompute, s.vp):
            if sp and tp == 1:
                continue
            yield Plan(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, sp=sp, vp=vp, zero=zero,
                       micro_batch=mb, global_batch=global_batch, recompute=rc, **s.extra)


def _key(objective: str):
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; use throughput or cost")
    if objective == "throughput":
        return lambda r: -r.tokens_per_s
    return lambda r: (r.cost.usd_per_1m_tokens if r.cost.usd_per_1m_tokens is not None
                      else float("inf"), -r.tokens_per_s)


def _memory_reason(fp) -> str:
    return (f"out of memory: needs {fp.total_bytes / 1e9:,.1f} GB per GPU, has "
            f"{fp.capacity_bytes / 1e9:,.1f} GB")


def search_training(prep: Prepared, gpus: int, global_batch: int,
                    objective: str = "throughput", space: TrainSpace | None = None,
                    train_tokens: float | None = None) -> SearchResult:
    """Rank every feasible training plan in the space by throughput or by $ per token."""
    key = _key(objective)
    system = prep.system
    _check_gpus(gpus, system)
    ranked, refused = _run_plans(
        train_space(gpus, global_batch, system.devices_per_node, space),
        lambda plan: evaluate(prep, plan, train_tokens))
    ranked.sort(key=key)
    return SearchResult(tuple(ranked), tuple(refused), objective,
                        _uncertainty(ranked, system.devices_per_node, True))


def _uncertainty(ranked: list, devices_per_node: int, training: bool
                 ) -> tuple[FamilyError, ...]:
    return tuple(plan_uncertainty(r.plan, devices_per_node, training) for r in ranked)


def _check_gpus(gpus: int, system) -> None:
    if gpus < 1 or gpus > system.num_devices:
        raise ValueError(f"gpus must be between 1 and the {system.num_devices} devices of "
                         f"{system.name}, not {gpus}")


def _run_plans(plans: Iterable[Plan], run: Callable[[Plan], Any]) -> tuple[list, list[Refusal]]:
    """Evaluate every plan: feasible reports, and refusals (divisibility or memory) with why."""
    ranked: list = []
    refused: list[Refusal] = []
    for plan in plans:
        try:
            report = run(plan)
        except PlanError as exc:
            refused.append(Refusal(plan, exc.kind, str(exc)))
            continue
        if report.feasible:
            ranked.append(report)
        else:
            refused.append(Refusal(plan, "memory", _memory_reason(report.footprint)))
    return ranked, refused


def infer_space(gpus: int, devices_per_node: int, experts: int,
                tp: tuple[int, ...] | None = None, pp: tuple[int, ...] | None = None,
                ep: tuple[int, ...] | None = None, attn_dp: tuple[int, ...] | None = None
                ) -> Iterator[Plan]:
    """Plans on up to `gpus` GPUs: tp within a node, pp, ep over the expert counts and, for
    mixture-of-experts models, attention data parallelism (tp x attn_dp GPUs per stage sharing
    the experts, the EP group every GPU of the stage or a divisor of it)."""
    node = max(devices_per_node, 1)
    tps = tp or tuple(d for d in _divisors(gpus) if d <= node)
    pps = pp or tuple(_divisors(gpus))
    eps = ep or ((1,) if not experts else tuple(d for d in _divisors(experts) if d <= gpus))
    adps = attn_dp or ((1,) if not experts else tuple(_divisors(gpus)))
    for t, p, a, e in itertools.product(tps, pps, adps, eps):
        if t * a * p <= gpus:
            yield Plan(tp=t, pp=p, ep=e, attn_dp=a)


def search_inference(ws: InferenceWorkloads, system, gpus: int,
                     objective: str = "throughput", options: Options | None = None,
                     tp: tuple[int, ...] | None = None, pp: tuple[int, ...] | None = None,
                     ep: tuple[int, ...] | None = None, attn_dp: tuple[int, ...] | None = None
                     ) -> SearchResult:
    """Rank inference plans by output tokens/s per GPU, or by $ per 1M output tokens."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; use throughput or cost")
    _check_gpus(gpus, system)
    ranked, refused = _run_plans(
        infer_space(gpus, system.devices_per_node, ws.prefill.model.experts, tp, pp, ep,
                    attn_dp),
        lambda plan: simulate_inference(ws, system, plan, options))
    if objective == "throughput":
        ranked.sort(key=lambda r: -r.tokens_per_s_per_gpu)
    else:
        ranked.sort(key=lambda r: (r.cost.usd_per_1m_tokens if r.cost.usd_per_1m_tokens
                                   is not None else float("inf"), -r.tokens_per_s_per_gpu))
    return SearchResult(tuple(ranked), tuple(refused), objective,
                        _uncertainty(ranked, system.devices_per_node, False))
