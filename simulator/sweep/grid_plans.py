"""A sweep grid's plans: the Plan fields a grid's plan may set, read and checked, its label
and the Plan it is at one workload shape (see `simulator.sweep.grid` for the batch)."""

from __future__ import annotations

from typing import Any

from simulator.core.memory import Recompute
from simulator.parallel.plan import Plan, Schedule
from workloads.op import Phase

# The Plan fields a grid's plan may set (batch and recompute come from the grid's own axes).
PLAN_KEYS = ("tp", "pp", "dp", "cp", "ep", "sp", "vp", "zero", "micro_batch", "schedule",
             "expert_imbalance", "attn_dp", "pp_layers")
_PLAN_INTS = ("tp", "pp", "dp", "cp", "ep", "vp", "zero", "micro_batch", "attn_dp")

PlanItem = tuple[tuple[str, Any], ...]   # (field, value) pairs in PLAN_KEYS order
SINGLE: PlanItem = ()                    # one device, priced as `simulate` prices it


def plan_label(item: PlanItem) -> str:
    """'tp4 pp2 dp1', then the other fields the plan sets: 'tp8 pp1 dp1 ep8 zero1 mb2'."""
    fields = dict(item)
    if "pp_layers" in fields:
        fields.setdefault("pp", len(fields["pp_layers"]))
    parts = [f"{k}{fields.get(k, 1)}" for k in ("tp", "pp", "dp")]
    for key in PLAN_KEYS[3:]:
        if key not in fields:
            continue
        value = fields[key]
        abbrev = {"micro_batch": "mb", "expert_imbalance": "imbalance",
                  "attn_dp": "adp"}.get(key, key)
        if key == "pp_layers":
            parts.append("layers " + ",".join(map(str, value)))
            continue
        parts.append(key if value is True else str(value) if key == "schedule"
                     else f"{abbrev}{value:g}")
    return " ".join(parts)


def plan_for(item: PlanItem, phase: Phase, batch: int, recompute: str) -> Plan:
    """The Plan of a grid plan at one workload shape (see the module doc for the batch)."""
    fields = dict(item)
    schedule = fields.pop("schedule", None)
    if fields.get("pp_layers") is not None:
        fields.setdefault("pp", len(fields["pp_layers"]))
    if phase is not Phase.TRAIN:
        return Plan(**fields, schedule=Schedule.parse(schedule) if schedule else None)
    fields.setdefault("micro_batch", batch)
    return Plan(**fields, global_batch=batch * fields.get("dp", 1),
                recompute=Recompute.parse(recompute),
                schedule=Schedule.parse(schedule) if schedule else None)


def short(value: Any) -> str:
    """A bounded repr of a value read from YAML (never the whole of a big one)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring = 2, 6, 4, 30
    return r.repr(value)


def read_plans(raw: Any, where: str) -> tuple[PlanItem, ...]:
    """[{tp: 8}, {tp: 4, pp: 2}, {tp: 2, dp: 4, zero: 1}]: Plan fields, defaults left out."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueError(f"{where}: 'plans' must list at least one plan, e.g. [{{tp: 8}}]")
    return tuple(_plan(item, where) for item in items)


def _plan(item: Any, where: str) -> PlanItem:
    if item is None:
        item = {}
    if not isinstance(item, dict):
        raise ValueError(f"{where}: a plan is a mapping of plan fields like {{tp: 4, pp: 2}}, "
                         f"not {short(item)}")
    unknown = set(item) - set(PLAN_KEYS)
    if unknown:
        raise ValueError(f"{where}: plan {short(item)} has unknown field(s) "
                         f"{', '.join(sorted(map(str, unknown)))}; use {', '.join(PLAN_KEYS)} "
                         "(the grid's batch and recompute set the rest)")
    problem = _plan_problem(item)
    if problem is None:
        try:
            plan_for(tuple(item.items()), Phase.TRAIN, 1, "none")
        except ValueError as e:
            problem = str(e)
    if problem is not None:
        raise ValueError(f"{where}: bad plan {short(item)}: {problem}")
    defaults = Plan()
    # A micro-batch stays even at 1: left out, it means the whole replica batch.
    return tuple((k, _canonical(k, item[k])) for k in PLAN_KEYS
                 if k in item and (k == "micro_batch" or item[k] != getattr(defaults, k)))


def _plan_problem(item: dict) -> str | None:
    for key in _PLAN_INTS:
        value = item.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{key} must be a whole number, not {short(value)}"
    if not isinstance(item.get("sp", False), bool):
        return f"sp must be true or false, not {short(item['sp'])}"
    value = item.get("expert_imbalance", 1.0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expert_imbalance must be a number, not {short(value)}"
    if not isinstance(item.get("schedule", ""), str):
        return f"schedule must be 1f1b or interleaved, not {short(item['schedule'])}"
    layers = item.get("pp_layers", [])
    if not isinstance(layers, list) or any(isinstance(n, bool) or not isinstance(n, int)
                                           for n in layers):
        return f"pp_layers must list whole numbers of layers per stage, not {short(layers)}"
    return None


def _canonical(key: str, value: Any) -> Any:
    if key == "schedule":
        return Schedule.parse(value).value
    if key == "pp_layers":
        return tuple(value)
    return float(value) if key == "expert_imbalance" else value
