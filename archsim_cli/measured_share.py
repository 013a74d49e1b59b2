"""How much of an answer the measured tables priced: the keys `--json` adds and the line the
text output ends with, for every command with `--kernels measured`."""

from __future__ import annotations

from collections.abc import Callable


def share_of(options, compute: Callable[[], dict]) -> dict | None:
    """The measured share of an answer priced under `options`: `compute()` (one of the
    simulator's `*_measured_share`) with `--kernels measured`, None with the model."""
    from simulator import KernelSource

    if options.kernels is not KernelSource.MEASURED:
        return None
    return compute()


def share_json(share: dict | None) -> dict:
    """The measured-share keys of a result's JSON (none with the model)."""
    if share is None:
        return {}
    return {k: share[k] for k in ("measured_share", "measured_share_by_class", "fell_back")}


def share_line(share: dict) -> str:
    """How much of the answer the measurements priced, by class, in one line (the CLI's and
    the app's)."""
    by = ", ".join(f"{k} {v:.0%}" for k, v in share["measured_share_by_class"].items())
    return (f"priced from measurements: {share['measured_share']:.1%} of the time ({by}); "
            f"{len(share['fell_back'])} kernels fell back to the model")


def say_share(share: dict | None) -> None:
    """Print `share_line` (nothing with the model)."""
    if share is not None:
        print(share_line(share))
