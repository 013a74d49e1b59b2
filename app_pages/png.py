"""PNG exports of the charts with matplotlib (plotly's own export needs kaleido and Chrome).

Each function returns PNG bytes; pages hand them to `st.download_button` as a callable, so a
PNG is drawn only when the user asks for it.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd

from app_pages.scenario import Priced


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=120)
    _pyplot().close(fig)
    return buf.getvalue()


def stacked_bars_png(frame: pd.DataFrame, y: str, stack: str, title: str) -> bytes:
    """The same panels as `charts.stacked_bars`: one per phase, bars per device."""
    plt = _pyplot()
    phases = list(dict.fromkeys(frame["phase"]))
    fig, axes = plt.subplots(1, len(phases), figsize=(5 * len(phases) + 2, 4.5), squeeze=False)
    for ax, phase in zip(axes[0], phases, strict=True):
        table = frame[frame["phase"] == phase].pivot_table(
            index="device", columns=stack, values=y, aggfunc="sum", sort=False).fillna(0.0)
        table.plot.bar(stacked=True, ax=ax, legend=False, rot=0)
        ax.set_title(phase)
        ax.set_ylabel(y)
        ax.set_xlabel("")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title=stack)
    fig.suptitle(title)
    fig.subplots_adjust(right=0.8)
    return _png(fig)


def roofline_png(priced: list[Priced], phase: str) -> bytes:
    """The simulator's own roofline plot of one phase's reports."""
    from archsim_cli.roofline_plot import plot_roofline

    chosen = [p for p in priced if p.step.phase == phase]
    with tempfile.TemporaryDirectory(prefix="archsim-png-") as tmp:
        path = plot_roofline([p.report for p in chosen], [p.device for p in chosen],
                             Path(tmp) / "roofline.png")
        return path.read_bytes()


def tornado_png(frame: pd.DataFrame, metric: str) -> bytes:
    plt = _pyplot()
    ordered = frame.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.5 * len(frame)))
    ax.barh(ordered["field"], ordered["x0.5 (%)"], color="#d62728", label="x0.5")
    ax.barh(ordered["field"], ordered["x2 (%)"], color="#2ca02c", label="x2")
    ax.axvline(0, color="black", linewidth=1)
    ax.set_xlabel(f"change of {metric} (%)")
    ax.set_title(f"Sensitivity of {metric}")
    ax.legend(title="field scaled")
    return _png(fig)
