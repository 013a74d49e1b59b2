"""How far off the simulator is for a kind of plan: the plan family and its measured error.

A plan's family is what it exercises that the cost model could get wrong: the phase (training
or inference), which parallel dimensions it uses (TP, PP, CP, EP, data parallelism with
ZeRO 0-2 as "DP", ZeRO-3 / FSDP as "ZeRO-3", attention data parallelism as "ADP") and whether
it crosses nodes. `archsim validate --published --save` runs every published case, groups the
errors by family and writes `hwspecs/calibration/plan_families.yaml`; the plan searches read it
and attach each ranked plan's family error (`FamilyError`). A family no published case runs is
unvalidated; one whose error is above `FAMILY_OFF_ABOVE` is off. Both are marked.

    fam = family_of(plan, devices_per_node=8, training=True)   # "train: ZeRO-3, across nodes"
    family_error(fam).status                                    # FamilyStatus.OFF
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from simulator.core.profile import CALIBRATION_DIR
from simulator.parallel.plan import Plan

FAMILY_FILE = CALIBRATION_DIR / "plan_families.yaml"
# A family counts as known to be off when its median |error| is above this (issue 17's bar:
# the ZeRO-3 and FSDP rows are to be within 25% median).
FAMILY_OFF_ABOVE = 0.25


class FamilyStatus(Enum):
    VALIDATED = "validated"
    OFF = "off"
    UNVALIDATED = "unvalidated"


@dataclass(frozen=True)
class FamilyError:
    """A family's published error. `median_abs_error` is the worst of its sources' medians
    (sources that disagree leave the family as known as its worst one); `median_error` is the
    signed median over all its cases (> 0: the simulator predicts faster than published)."""

    family: str
    cases: int = 0
    median_abs_error: float | None = None
    median_error: float | None = None
    sources: tuple[str, ...] = ()

    @property
    def status(self) -> FamilyStatus:
        if self.median_abs_error is None or self.cases == 0:
            return FamilyStatus.UNVALIDATED
        return FamilyStatus.OFF if self.median_abs_error > FAMILY_OFF_ABOVE else \
            FamilyStatus.VALIDATED

    @property
    def marked(self) -> bool:
        return self.status is not FamilyStatus.VALIDATED

    def label(self) -> str:
        """A table cell: '±14% (38)' for a validated family, with '!' and why otherwise."""
        if self.status is FamilyStatus.UNVALIDATED:
            return "! unvalidated"
        text = f"±{self.median_abs_error:.0%} ({self.cases})"
        return f"! off {text}" if self.status is FamilyStatus.OFF else text

    def as_dict(self) -> dict:
        return {"family": self.family, "status": self.status.value, "marked": self.marked,
                "cases": self.cases, "median_abs_error": self.median_abs_error,
                "median_error": self.median_error, "sources": list(self.sources),
                "table": str(FAMILY_FILE.name)}


def family_of(plan: Plan, devices_per_node: int, training: bool) -> str:
    """The family name of a plan on a system with `devices_per_node` GPUs per node."""
    parts = [name for name, used in (("TP", plan.tp > 1), ("PP", plan.pp > 1),
                                     ("CP", plan.cp > 1), ("EP", plan.ep > 1),
                                     ("ADP", plan.attn_dp > 1)) if used]
    if plan.dp > 1:
        # NB: ZeRO-1/2 move the bytes of DP's all-reduce (a reduce-scatter and an all-gather)
        # and differ from it only in memory, so they share DP's family.
        parts.append("ZeRO-3" if plan.zero == 3 else "DP")
    phase = "train" if training else "infer"
    if not parts:
        return f"{phase}: one GPU"
    scope = "within a node" if plan.gpus <= max(devices_per_node, 1) else "across nodes"
    return f"{phase}: {'+'.join(parts)}, {scope}"


def family_error(family: str) -> FamilyError:
    """The shipped table's entry for `family` (unvalidated when it has none)."""
    return load_family_errors().get(family, FamilyError(family))


def plan_uncertainty(plan: Plan, devices_per_node: int, training: bool) -> FamilyError:
    return family_error(family_of(plan, devices_per_node, training))


def load_family_errors() -> dict[str, FamilyError]:
    """Every family of the shipped table ({} before any was written)."""
    if not FAMILY_FILE.is_file():
        return {}
    return dict(_cached(FAMILY_FILE.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _cached(mtime_ns: int) -> dict[str, FamilyError]:
    return check_family_file(FAMILY_FILE)


def check_family_file(path) -> dict[str, FamilyError]:
    """The families a table holds; ValueError naming the file when it is not a mapping with a
    `source` and, per family, a case count, a median |error| >= 0 and its sources."""
    from hwspecs import yaml_strict

    families = yaml_strict.load_sourced(path, "plan family table", "families", "'families'")
    out = {}
    for name, entry in families.items():
        try:
            cases, med, signed = entry["cases"], entry["median_abs_error"], entry["median_error"]
            sources = tuple(str(s) for s in entry["sources"])
            ok = isinstance(cases, int) and cases > 0 and all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in (med, signed)) \
                and med >= 0
        except (KeyError, TypeError):
            ok = False
        if not ok:
            raise ValueError(f"{path}: family {name!r} needs cases > 0, median_abs_error >= 0, "
                             "median_error and sources")
        out[str(name)] = FamilyError(str(name), cases, float(med), float(signed), sources)
    return out
