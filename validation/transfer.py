"""Does a profile fitted on one device predict another? Efficiencies are fractions of each
device's own peaks, so a profile fitted on device A is applied unchanged to device B's spec
(B's measured peaks, bandwidth and compute units) and scored on B's held-out kernels, beside
B's own fitted profile on the same kernels.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pandas as pd

from simulator.efficiency import profile_for
from validation.compare import held_out_errors, kernel_comparison
from validation.measured_sets import MeasuredSet


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
        moved = held_out_errors(kernel_comparison(frame, target.device,
                                                  profile_for(source.device)))
        own = held_out_errors(kernel_comparison(frame, target.device,
                                                profile_for(target.device)))
        both = moved.merge(own[["kernel", "median_ape_pct", "p90_ape_pct"]], on="kernel",
                           suffixes=("", "_own"))
        both = pd.concat([both, _overall(frame, target, source)], ignore_index=True)
        both.insert(0, "applied_to", target.device.name)
        both.insert(0, "fitted_on", source.device.name)
        rows.append(both)
    return pd.concat(rows, ignore_index=True)


def _overall(frame: pd.DataFrame, target: MeasuredSet, source: MeasuredSet) -> pd.DataFrame:
    """One 'all' row: every held-out kernel of the target together."""
    row = {"kernel": "all"}
    for suffix, device in (("", source.device), ("_own", target.device)):
        c = kernel_comparison(frame, target.device, profile_for(device))
        ape = c.loc[c["held_out"], "error_pct"].abs()
        row.update({f"median_ape_pct{suffix}": float(ape.median()),
                    f"p90_ape_pct{suffix}": float(np.percentile(ape, 90))})
        row["cases"] = int(len(ape))
        row["median_noise_pct"] = float(c.loc[c["held_out"], "noise_riqr"].median() * 100)
    return pd.DataFrame([row])
