"""The "kernels: model / measured" switch every pricing page shares (`--kernels` in the CLI),
and the line that says how much of a result the measurements priced."""

from __future__ import annotations

import streamlit as st

from app_pages import state
from archsim_cli.measured_share import share_line

KEY = "in_kernels"                 # one session value: every page prices the same way
CHOICES = ("model", "measured")
HELP = ("model: every kernel priced by the device's fitted model. measured: from the committed "
        "measurements of the device under its engine where they cover a kernel, the fitted "
        "model elsewhere (as `--kernels measured`).")


def switch(where=None) -> str:
    """Draw the switch (in the sidebar unless `where` says) and give its value."""
    state.default(KEY, CHOICES[0])
    return (where or st.sidebar).radio("Kernels", CHOICES, key=KEY, horizontal=True,
                                       help=HELP)


def with_kernels(options, choice: str):
    """`options` priced the way the switch says."""
    from dataclasses import replace

    from simulator import kernel_fields

    return replace(options, **kernel_fields(choice))


def caption(share: dict | None, what: str = "") -> None:
    """The measured share of a single result under the switch (nothing with the model)."""
    if share is not None:
        text = share_line(share)
        st.caption(f"{what}{': ' if what else ''}{text[0].upper()}{text[1:]}.")


def step_share(workload, device, options) -> dict | None:
    """The measured share of one step on one device (None with the model)."""
    from archsim_cli.measured_share import share_of
    from simulator import measured_share, workload_kernel_check

    return share_of(options, lambda: measured_share(
        workload_kernel_check(workload, device, options)))
