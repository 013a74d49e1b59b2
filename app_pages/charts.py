"""Plotly figures for the pages, drawn from the tables in `app_pages.tables` and the reports.

One color per device, the same in every chart of a page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from app_pages.scenario import Priced
from archsim_cli.roofline_plot import achieved_points
from simulator import KINDS

_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "star",
            "triangle-down", "pentagon", "hexagon", "star-diamond", "hourglass")


def device_colors(names: list[str]) -> dict[str, str]:
    palette = qualitative.Plotly + qualitative.D3
    return {n: palette[i % len(palette)] for i, n in enumerate(dict.fromkeys(names))}


def _phases(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["phase"]))


def stacked_bars(frame: pd.DataFrame, y: str, stack: str, y_title: str) -> go.Figure:
    """Bars per device, stacked by `stack`, one panel per phase with its own y axis."""
    phases = _phases(frame)
    fig = make_subplots(rows=1, cols=len(phases), subplot_titles=phases)
    parts = list(dict.fromkeys(frame[stack]))
    palette = qualitative.Safe + qualitative.Pastel
    for col, phase in enumerate(phases, start=1):
        sub = frame[frame["phase"] == phase]
        for i, part in enumerate(parts):
            rows = sub[sub[stack] == part]
            fig.add_trace(go.Bar(x=rows["device"], y=rows[y], name=part, legendgroup=part,
                                 marker_color=palette[i % len(palette)],
                                 showlegend=col == 1), row=1, col=col)
        fig.update_yaxes(title_text=y_title if col == 1 else None, row=1, col=col)
    fig.update_layout(barmode="stack", height=420, legend_title_text=stack,
                      margin=dict(t=40, b=40))
    return fig


def capacity_marks(fig: go.Figure, frame: pd.DataFrame) -> go.Figure:
    """Each device's memory capacity as a line marker over its memory bar."""
    for col, phase in enumerate(_phases(frame), start=1):
        caps = frame[frame["phase"] == phase].drop_duplicates("device")
        fig.add_trace(go.Scatter(x=caps["device"], y=caps["capacity (GB)"], mode="markers",
                                 marker=dict(symbol="line-ew-open", size=40, color="black",
                                             line=dict(width=3)),
                                 name="capacity", legendgroup="capacity",
                                 showlegend=col == 1), row=1, col=col)
    return fig


def distinct_points(report) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The roofline points of a report's kernels, each distinct point once with how many
    kernels sit on it (a model's layers repeat the same kernels: thousands of points become
    dozens, which a browser draws at once)."""
    intensity, achieved, kinds = achieved_points(report)
    rows, count = np.unique(np.column_stack([intensity, achieved, kinds]), axis=0,
                            return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2].astype(int), count


def roofline(priced: list[Priced], colors: dict[str, str]) -> go.Figure:
    """Kernels as points (achieved FLOP/s against arithmetic intensity) on each device's roofs,
    one panel per phase, log axes; a point's size grows with the kernels on it."""
    phases = list(dict.fromkeys(p.step.phase for p in priced))
    fig = make_subplots(rows=1, cols=len(phases), subplot_titles=phases,
                        horizontal_spacing=0.08)
    x = np.logspace(-2, 5, 120)
    kinds_seen: set[int] = set()
    for col, phase in enumerate(phases, start=1):
        for p in (q for q in priced if q.step.phase == phase):
            name, color = p.device.name, colors[p.device.name]
            roof = np.minimum(p.report.peak_flops_per_s, x * p.device.mem_bw_bytes_per_s)
            fig.add_trace(go.Scatter(x=x, y=roof, mode="lines", line=dict(color=color),
                                     name=name, legendgroup=name, showlegend=col == 1,
                                     hoverinfo="skip"), row=1, col=col)
            intensity, achieved, kinds, count = distinct_points(p.report)
            kinds_seen.update(int(k) for k in kinds)
            fig.add_trace(go.Scatter(
                x=intensity, y=achieved, mode="markers", legendgroup=name, showlegend=False,
                name=name, marker=dict(color=color, size=5 + 2 * np.sqrt(count), opacity=0.6,
                                       symbol=[_SYMBOLS[k % len(_SYMBOLS)] for k in kinds]),
                text=[f"{KINDS[k].value} x{n}" for k, n in zip(kinds, count, strict=True)],
                hovertemplate=f"{name}<br>%{{text}}<br>%{{x:.3g}} FLOP/byte<br>"
                              "%{y:.3g} FLOP/s<extra></extra>"), row=1, col=col)
        fig.update_xaxes(type="log", dtick=1, exponentformat="power",
                         title_text="arithmetic intensity (FLOP/byte)", row=1, col=col)
        fig.update_yaxes(type="log", dtick=1, exponentformat="SI",
                         title_text="achieved FLOP/s" if col == 1 else None, row=1, col=col)
    for code in sorted(kinds_seen):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=KINDS[code].value,
                                 marker=dict(color="gray", symbol=_SYMBOLS[code % len(_SYMBOLS)]),
                                 legendgroup=f"kind-{code}"), row=1, col=1)
    fig.update_layout(height=520, margin=dict(t=40, b=40))
    return fig


def tornado(frame: pd.DataFrame, metric: str) -> go.Figure:
    """Change of `metric` when each field alone is scaled down and up; widest bar on top."""
    ordered = frame.iloc[::-1]
    fig = go.Figure()
    for column, color in (("x0.5 (%)", "#d62728"), ("x2 (%)", "#2ca02c")):
        fig.add_trace(go.Bar(y=ordered["field"], x=ordered[column], orientation="h",
                             name=column.replace(" (%)", ""), marker_color=color,
                             hovertemplate="%{y}: %{x:+.1f}%<extra></extra>"))
    fig.update_layout(barmode="overlay", xaxis_title=f"change of {metric} (%)",
                      height=80 + 45 * len(frame), margin=dict(t=30, b=40),
                      legend_title_text="field scaled")
    fig.add_vline(x=0, line_color="black", line_width=1)
    return fig
