"""The note under a plan search's table: what its family-error column means and which of the
shown plans it marks."""

from __future__ import annotations


def say_family_errors(uncertainty) -> None:
    """One line on the column, and one per marked family among the plans shown."""
    if not uncertainty:
        return
    from simulator import FAMILY_OFF_ABOVE, FamilyStatus

    print(f"family err: the median |error| of `validate --published` over published runs of "
          f"the plan's family (cases in brackets); '!' marks a family no published run "
          f"validates or one off by more than {FAMILY_OFF_ABOVE:.0%}")
    seen = {}
    for u in uncertainty:
        if u.marked and u.family not in seen:
            seen[u.family] = u
    for family, u in seen.items():
        if u.status is FamilyStatus.OFF:
            print(f"  ! {family}: off, median |error| {u.median_abs_error:.0%} for its worst "
                  f"source ({u.cases} published cases of {', '.join(u.sources)}); its ranks "
                  "are not to be trusted")
        else:
            print(f"  ! {family}: no published case validates it")
