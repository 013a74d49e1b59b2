"""The note under a plan search's table: what its family-error column means and which of the
shown plans it marks (the CLI prints it; the app's Training page shows the same lines)."""

from __future__ import annotations


def family_error_lines(uncertainty) -> list[str]:
    """One line on the column, and one per marked family among the plans shown (none without
    plans)."""
    if not uncertainty:
        return []
    from simulator import FAMILY_OFF_ABOVE, FamilyStatus

    lines = [f"family err: the median |error| of `validate --published` over published runs "
             f"of the plan's family (cases in brackets); '!' marks a family no published run "
             f"validates or one off by more than {FAMILY_OFF_ABOVE:.0%}"]
    seen = {}
    for u in uncertainty:
        if u.marked and u.family not in seen:
            seen[u.family] = u
    for family, u in seen.items():
        if u.status is FamilyStatus.OFF:
            lines.append(f"  ! {family}: off, median |error| {u.median_abs_error:.0%} for its "
                         f"worst source ({u.cases} published cases of {', '.join(u.sources)}); "
                         "its ranks are not to be trusted")
        else:
            lines.append(f"  ! {family}: no published case validates it")
    return lines


def say_family_errors(uncertainty) -> None:
    for line in family_error_lines(uncertainty):
        print(line)
