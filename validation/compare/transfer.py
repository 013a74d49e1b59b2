"""Does a profile fitted on one device predict another? The transfer rule
(`simulator.core.transfer`) moves device A's own fitted profile to device B's spec (B's peaks,
bandwidth, compute units and links price it); it is scored on every record of B (none of
which it saw), beside B's own fitted profile on B's held-out quarter. Pairs are of sets
measured under the same engine.
"""

from __future__ import annotations

from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simulator.core.profile import EfficiencyProfile
from simulator.core.profile_choice import profile_for
from simulator.core.transfer import TRANSFER_FILE, transfer_profile
from validation.compare.kernels import held_out_errors, kernel_comparison
from validation.fit.calibrate import error_table
from validation.measure.measured_sets import MeasuredSet

_KEYS = ["kernel", "dtype"]


def _engine(s: MeasuredSet) -> str | None:
    engine = s.measurements.meta.get("engine")
    return engine if engine in ("trtllm", "vllm", "sglang") else None


def own_profile(s: MeasuredSet) -> EfficiencyProfile:
    profile = profile_for(s.device, _engine(s))
    if not profile.fitted or profile.fitted_on not in ("", s.device.name):   # "": older fits
        raise ValueError(f"no profile fitted on {s.device.name}'s own measurements; run "
                         f"`archsim calibrate` on {s.measurements.csv_path.parent} first")
    return profile


def transfer_table(sets: list[MeasuredSet]) -> pd.DataFrame:
    """Per ordered pair (fitted on A, applied to B) of one engine, per kernel class and dtype:
    the median and p90 error of A's profile moved to B on all of B's records, and of B's own
    profile on B's held-out quarter. Needs two or more sets of one engine."""
    by_engine: dict[str | None, list[MeasuredSet]] = {}
    for s in sets:
        by_engine.setdefault(_engine(s), []).append(s)
    pairs = [p for group in by_engine.values() for p in permutations(group, 2)
             if p[0].device.name != p[1].device.name]
    if not pairs:
        raise ValueError("a transfer check needs measurements of two or more devices under "
                         f"one engine; found {len(sets)} set(s): "
                         + ", ".join(f"{s.device.name} ({_engine(s) or 'own bench'})"
                                     for s in sets))
    rows = []
    for source, target in pairs:
        frame = target.measurements.frame
        moved_profile = transfer_profile(own_profile(source), source.device, target.device,
                                         widening={})
        moved = kernel_comparison(frame, target.device, moved_profile)
        own = kernel_comparison(frame, target.device, own_profile(target))
        moved_table = error_table(moved, moved["predicted_s"].to_numpy())
        both = moved_table.merge(held_out_errors(own)[_KEYS + ["median_ape_pct",
                                                               "p90_ape_pct"]],
                                 on=_KEYS, how="left", suffixes=("", "_own"))
        both = pd.concat([both, _overall(moved, own)], ignore_index=True)
        both.insert(0, "engine", _engine(target) or "")
        both.insert(0, "applied_to", target.device.name)
        both.insert(0, "fitted_on", source.device.name)
        rows.append(both)
    return pd.concat(rows, ignore_index=True)


def _overall(moved: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """One 'all' row: every record of the target (moved), its held-out quarter (own)."""
    held = own["held_out"].to_numpy()
    row = {"kernel": "all", "dtype": "", "cases": len(moved),
           "median_noise_pct": float(moved["noise_riqr"].median() * 100)}
    for suffix, errors in (("", moved["error_pct"].abs()),
                           ("_own", own.loc[held, "error_pct"].abs())):
        row.update({f"median_ape_pct{suffix}": float(errors.median()),
                    f"p90_ape_pct{suffix}": float(np.percentile(errors, 90))})
    return pd.DataFrame([row])


def save_widening(table: pd.DataFrame, path: str | Path = TRANSFER_FILE) -> Path:
    """The per-class median transfer error (the worse direction and dtype) the transfer rule
    widens intervals by, with how it was measured."""
    from datetime import UTC, datetime

    rows = table[table["kernel"] != "all"]
    worst = rows.groupby("kernel")["median_ape_pct"].max() / 100.0
    pairs = sorted({f"{a} -> {b} ({e})" for a, b, e in
                    zip(rows["fitted_on"], rows["applied_to"], rows["engine"], strict=True)})
    data = {"source": "archsim validate --transfer --save on the shipped measurement sets, "
                      f"{datetime.now(UTC).strftime('%Y-%m-%d')}: " + "; ".join(pairs),
            "median_abs_error": {k: round(float(v), 4) for k, v in worst.items()}}
    out = Path(path)
    out.write_text(yaml.safe_dump(data, sort_keys=True))
    return out
