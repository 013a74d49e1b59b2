"""Explore: open an `archsim sweep` results folder, filter by any axis (the parallel plan
too), scatter any two metrics with the cost/latency Pareto front marked, and pick a point to see
its full row.

The front is `simulator.sweep.summary.pareto_front`'s (per model and phase, cost against time;
a plan's cost covers all its GPUs).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import png, prices, state, tables
from simulator import AXES, axes_of, pareto_front

_NOT_METRICS = {"chunk", "feasible", "error"}
FRONT, OTHER = "Pareto front (cost vs time)", "other feasible points"
INFEASIBLE = "out of memory or refused"
# The front stands out (dark, large, drawn last); points that cannot run are faint crosses.
_STYLE = {FRONT: ("#b2182b", "star", 14), OTHER: ("#6baed6", "circle", 7),
          INFEASIBLE: ("#cccccc", "x", 6)}


def load(folder: str) -> pd.DataFrame:
    path = Path(folder).expanduser()
    if not path.is_dir() or not any(path.glob("*.parquet")):
        raise ValueError(f"{folder} is not a sweep results folder (no .parquet parts in it)")
    latest = max(p.stat().st_mtime for p in path.glob("*.parquet"))
    return state.sweep_results(str(path), latest)


def metric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in AXES and c not in _NOT_METRICS
            and pd.api.types.is_numeric_dtype(frame[c])]


def mark_front(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a `front` column: on the sweep's Pareto front, another feasible point,
    or a point that does not fit in memory or whose plan was refused."""
    front = pareto_front(frame)
    axes = axes_of(frame)
    keys = set(map(tuple, front[axes].astype(str).to_numpy()))
    on = [tuple(r) in keys for r in frame[axes].astype(str).to_numpy()]
    ok = _feasible(frame)
    return frame.assign(front=[FRONT if x else OTHER if good else INFEASIBLE
                               for x, good in zip(on, ok, strict=True)])


def _feasible(frame: pd.DataFrame) -> list[bool]:
    good = frame["feasible"].astype(bool) if "feasible" in frame.columns \
        else pd.Series(True, index=frame.index)
    if "error" in frame.columns:
        good &= frame["error"].isna() | (frame["error"].astype(str) == "")
    return good.tolist()


def scatter(shown: pd.DataFrame, x: str, y: str, log: bool):
    """Every point, the front on top in a dark color, infeasible points faint."""
    import plotly.graph_objects as go

    data = shown.reset_index(names="row")
    axes = [a for a in AXES if a in shown.columns]
    fig = go.Figure()
    for label in (INFEASIBLE, OTHER, FRONT):          # drawn in this order: the front last
        part = data[data["front"] == label]
        if part.empty:
            continue
        color, symbol, size = _STYLE[label]
        hover = "<br>".join(f"{a}=%{{customdata[{i + 1}]}}" for i, a in enumerate(axes))
        fig.add_trace(go.Scatter(
            x=part[x], y=part[y], mode="markers", name=label,
            marker=dict(color=color, symbol=symbol, size=size,
                        line=dict(width=0.5, color="#333333") if label == FRONT else None),
            customdata=part[["row", *axes]].astype(str).to_numpy(),
            hovertemplate=f"{label}<br>{x}=%{{x:.4g}}<br>{y}=%{{y:.4g}}<br>{hover}"
                          "<extra></extra>"))
    fig.update_layout(xaxis_title=x, yaxis_title=y, legend_title_text="point",
                      height=480, margin=dict(t=30, b=40))
    if log:
        fig.update_xaxes(type="log")
        fig.update_yaxes(type="log")
    return fig


def _filters(frame: pd.DataFrame) -> pd.DataFrame:
    st.markdown("**Filter**")
    axes = [a for a in AXES if a in frame.columns and frame[a].nunique() > 1]
    cols = st.columns(max(len(axes), 1))
    keep = pd.Series(True, index=frame.index)
    for col, axis in zip(cols, axes, strict=False):
        values = sorted(frame[axis].unique().tolist())
        key = f"in_ex_f_{axis}"
        if key in st.session_state and not set(st.session_state[key]) <= set(values):
            del st.session_state[key]
        state.default(key, values)
        chosen = col.multiselect(axis, values, key=key)
        keep &= frame[axis].isin(chosen)
    return frame[keep]


def _axes(metrics: list[str]) -> tuple[str, str, bool]:
    for key, value in (("in_ex_x", "time_s"), ("in_ex_y", "usd_per_1m_tokens")):
        if st.session_state.get(key) not in metrics:
            st.session_state[key] = value if value in metrics else metrics[0]
    state.default("in_ex_log", True)
    c = st.columns(3)
    x = c[0].selectbox("x", metrics, key="in_ex_x")
    y = c[1].selectbox("y", metrics, key="in_ex_y")
    log = c[2].toggle("Log axes", key="in_ex_log")
    return x, y, log


def scatter_png(frame: pd.DataFrame, x: str, y: str, log: bool) -> bytes:
    plt = png._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label in (INFEASIBLE, OTHER, FRONT):
        part = frame[frame["front"] == label]
        if part.empty:
            continue
        color, marker, size = _STYLE[label]
        ax.scatter(part[x], part[y], marker={"star": "*", "circle": "o", "x": "x"}[marker],
                   s=size * 6, color=color, label=label, zorder={FRONT: 3}.get(label, 2))
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend()
    data = png._png(fig)
    plt.close(fig)
    return data


def _point(shown: pd.DataFrame, picked: int | None) -> None:
    st.subheader("One point")
    labels = {i: " / ".join(f"{a}={shown.at[i, a]}" for a in AXES if a in shown.columns)
              for i in shown.index}
    if picked is not None and picked in labels:
        st.session_state["in_ex_point"] = picked
    if st.session_state.get("in_ex_point") not in labels:
        st.session_state["in_ex_point"] = next(iter(labels))
    row = st.selectbox("Point (or click one in the chart)", list(labels), key="in_ex_point",
                       format_func=labels.get)
    full = shown.loc[row].drop(labels=["front"])
    tables.show(pd.DataFrame({"field": full.index, "value": full.astype(str).to_numpy()}),
                "sweep_point", "ex_point", max_height=600)


def _at_rents(frame: pd.DataFrame, folder: str) -> pd.DataFrame:
    """The sweep's dollars at the rents in the price fields (each starts at the rent the
    sweep was priced at)."""
    from simulator import reprice, sweep_rents

    pricing, used = sweep_rents(Path(folder).expanduser())
    if pricing != "rent":
        return frame
    rents = prices.rent_fields(list(used), "in_ex_rent", start=used)
    if rents:
        st.caption("Dollars at the rents set under Prices" + prices.caption(rents)[1:] + ".")
    return reprice(frame, Path(folder).expanduser(), dict(rents))


def render() -> None:
    st.title("Explore a sweep")
    state.default("in_ex_folder", "")
    folder = st.text_input("Results folder (`archsim sweep --out`)", key="in_ex_folder")
    if not folder.strip():
        st.info("Give the folder an `archsim sweep` run wrote its results to.")
        return
    with state.user_errors():
        frame = load(folder.strip())
        frame = _at_rents(frame, folder.strip())
    metrics = metric_columns(frame)
    if frame.empty or not metrics:
        st.error(f"{folder} holds no sweep points.")
        return
    shown = mark_front(_filters(frame))
    st.caption(f"{len(shown):,} of {len(frame):,} points; "
               f"{int((shown['front'] == FRONT).sum())} on the Pareto front, "
               f"{int((shown['front'] == INFEASIBLE).sum())} out of memory or refused.")
    if shown.empty:
        st.info("No point passes the filters.")
        return
    x, y, log = _axes(metrics)
    fig = scatter(shown, x, y, log)
    event = st.plotly_chart(fig, key="chart_explore", on_select="rerun",
                            selection_mode="points")
    points = event.selection.points if event else []
    picked = int(points[0]["customdata"][0]) if points and points[0].get("customdata") else None
    st.download_button("Download PNG", lambda: scatter_png(shown, x, y, log), "sweep.png",
                       "image/png", key="png_explore", on_click="ignore")
    tables.show(shown, "sweep_filtered", "ex_points", max_height=300)
    _point(shown, picked)


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
