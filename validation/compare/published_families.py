"""The published comparison grouped by plan family: the error table the plan searches show.

    result = compare_published()
    table = family_table(result)            # {family: {cases, median_abs_error, ...}}
    save_family_table(result)               # hwspecs/calibration/plan_families.yaml

A family's `median_abs_error` is the largest of its sources' median |error| (two sources that
disagree on one family leave it as known as the worse of them); `median_error` is the signed
median of all its cases. Cases that could not run are left out. Nothing is fitted: the
table only reports how far the shipped model is from what was published.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from pathlib import Path

import yaml

from simulator.parallel.systems import system_for_gpus
from simulator.planner.families import FAMILY_FILE, family_of
from validation.compare.published import PublishedComparison
from validation.compare.published_cases import TrainCase, inference_cases, training_cases


def case_families() -> dict[str, str]:
    """The plan family of every published case, by case id."""
    train, _ = training_cases()
    infer, _ = inference_cases()
    out = {}
    for case in (*train, *infer):
        system = system_for_gpus(case.system, None)
        out[case.case_id] = family_of(case.plan, system.devices_per_node,
                                      isinstance(case, TrainCase))
    return out


def family_table(result: PublishedComparison) -> dict[str, dict]:
    """Per family: cases, the worst source median |error|, the signed median, and per source
    its cases and median |error|."""
    families = case_families()
    groups: dict[str, dict[str, list[float]]] = {}
    for r in result.results:
        if r.error is None or r.case_id not in families:
            continue
        groups.setdefault(families[r.case_id], {}).setdefault(r.source, []).append(r.error)
    out = {}
    for family, by_source in sorted(groups.items()):
        errors = [e for es in by_source.values() for e in es]
        per_source = {s: {"cases": len(es),
                          "median_abs_error": round(statistics.median(abs(e) for e in es), 4)}
                      for s, es in sorted(by_source.items())}
        out[family] = {"cases": len(errors),
                       "median_abs_error": max(v["median_abs_error"]
                                               for v in per_source.values()),
                       "median_error": round(statistics.median(errors), 4),
                       "sources": sorted(by_source), "by_source": per_source}
    return out


def save_family_table(result: PublishedComparison, path: str | Path = FAMILY_FILE) -> Path:
    """Write the family table with how and when it was measured."""
    sources = sorted({r.source for r in result.results if r.error is not None})
    data = {"source": "archsim validate --published --save on validation/published, "
                      f"{datetime.now(UTC).strftime('%Y-%m-%d')}: "
                      f"{sum(r.error is not None for r in result.results)} cases of "
                      + "; ".join(sources),
            "families": family_table(result)}
    out = Path(path)
    out.write_text(yaml.safe_dump(data, sort_keys=True, width=100))
    return out
