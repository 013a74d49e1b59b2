"""Does a profile fitted on one device predict another? Efficiencies are fractions of each
device's own peaks, so a profile fitted on device A is applied unchanged to device B's spec
(B's measured peaks, bandwidth and compute units) and scored on B's held-out kernels, beside
B's own fitted profile on the same kernels.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd

from simulator.core.profile import profile_for
from validation.compare.kernels import held_out_errors, kernel_comparison
from validation.measure.measured_sets import MeasuredSet


def transfer_table(sets: list[MeasuredSet]) -> pd.DataFrame:
    """Per ordered pair (fitted on A, applied to B) and kernel class: the held-out median and
    p90 error of A's profile on B, and of B's own profile. Needs two or more sets."""
    if len(sets) < 2:
        raise ValueError("a transfer check needs measurements of two or more devices; "
                         f"found {len(sets)}")
    for s in sets:
        if not profile_for(s.device).fitted:
            raise ValueError(f"no fitted profile for {s.device.name}; run `archsim calibrate` "
                             "on its measurements first")
    rows = []
    for source, target in permutations(sets, 2):
        frame = target.measurements.frame
        moved = kernel_comparison(frame, target.device, profile_for(source.device))
        own = kernel_comparison(frame, target.device, profile_for(target.device))
        both = held_out_errors(moved).merge(
            held_out_errors(own)[["kernel", "median_ape_pct", "p90_ape_pct"]], on="kernel",
            suffixes=("", "_own"))
        both = pd.concat([both, _overall(moved, own)], ignore_index=True)
        both.insert(0, "applied_to", target.device.name)
        both.insert(0, "fitted_on", source.device.name)
        rows.append(both)
    return pd.concat(rows, ignore_index=True)


def _overall(moved: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """One 'all' row: every held-out kernel of the target together."""
    held = moved["held_out"].to_numpy()
    row = {"kernel": "all", "cases": int(held.sum()),
           "median_noise_pct": float(moved.loc[held, "noise_riqr"].median() * 100)}
    for suffix, c in (("", moved), ("_own", own)):
        ape = c.loc[held, "error_pct"].abs()
        row.update({f"median_ape_pct{suffix}": float(ape.median()),
                    f"p90_ape_pct{suffix}": float(np.percentile(ape, 90))})
    return pd.DataFrame([row])
