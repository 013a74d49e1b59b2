"""How much of an answer the measured tables priced: the keys `--json` adds and the line the
text output ends with, for every command with `--kernels measured`."""

from __future__ import annotations


def share_json(share: dict) -> dict:
    """The measured-share keys of a result's JSON."""
    return {k: share[k] for k in ("measured_share", "measured_share_by_class", "fell_back")}


def say_share(share: dict) -> None:
    """One line: how much of the answer the measurements priced, by class."""
    by = ", ".join(f"{k} {v:.0%}" for k, v in share["measured_share_by_class"].items())
    print(f"priced from measurements: {share['measured_share']:.1%} of the time ({by}); "
          f"{len(share['fell_back'])} kernels fell back to the model")
