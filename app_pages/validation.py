"""Validation: predicted against measured kernel times per device and kernel class, the held-out
error table, and the comparison with published results.

Numbers are `validation.compare.kernels.kernel_comparison` / `scored_errors` on a shipped measurement
set (`validation.measure.measured_sets`), and `validation.compare.published.compare_published`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages import png, state, tables

SCATTER_POINTS = 3000


def scatter(comparison: pd.DataFrame, title: str) -> go.Figure:
    shown = comparison.assign(set=np.where(comparison["held_out"], "held out", "fitted"),
                              measured_us=comparison["median_s"] * 1e6,
                              predicted_us=comparison["predicted_s"] * 1e6)
    if len(shown) > SCATTER_POINTS:     # imported GPU tables: a seeded sample, per class
        per_class = SCATTER_POINTS // shown["class"].nunique()
        shown = shown.sample(frac=1.0, random_state=0).groupby("class").head(per_class)
    fig = px.scatter(shown, x="measured_us", y="predicted_us", color="class", symbol="set",
                     hover_data=["op", "dtype", "error_pct"], log_x=True, log_y=True,
                     labels={"measured_us": "measured (µs)", "predicted_us": "predicted (µs)"},
                     title=title)
    lo = float(shown[["measured_us", "predicted_us"]].min().min())
    hi = float(shown[["measured_us", "predicted_us"]].max().max())
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = measured",
                             line={"dash": "dot", "color": "grey"}))
    return fig


def scatter_png(comparison: pd.DataFrame, title: str) -> bytes:
    plt = png._pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    for kernel, part in comparison.groupby("class"):
        if len(part) > SCATTER_POINTS // 10:
            part = part.sample(SCATTER_POINTS // 10, random_state=0)
        ax.scatter(part["median_s"] * 1e6, part["predicted_s"] * 1e6, label=kernel, s=12)
    lo = float(comparison[["median_s", "predicted_s"]].min().min()) * 1e6
    hi = float(comparison[["median_s", "predicted_s"]].max().max()) * 1e6
    ax.plot([lo, hi], [lo, hi], ":", color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured (µs)")
    ax.set_ylabel("predicted (µs)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    data = png._png(fig)
    plt.close(fig)
    return data


def _measured() -> None:
    from validation.compare.kernels import scored_errors
    from validation.measure.measured_sets import DATA_DIR, shipped_sets

    st.subheader("Kernels: predicted against measured")
    sets = {p.name: str(p) for p in shipped_sets()}
    if not sets:
        st.info(f"No measurement set is shipped yet ({DATA_DIR} holds none); run "
                "`archsim bench` on a device and keep its folder there.")
        return
    state.default("in_va_set", next(iter(sets)))
    if st.session_state["in_va_set"] not in sets:
        st.session_state["in_va_set"] = next(iter(sets))
    name = st.selectbox("Measurement set", list(sets), key="in_va_set")
    with state.user_errors():
        device, profile, comparison, fitted_here = state.kernel_comparison(sets[name])
    classes = sorted(comparison["class"].unique())
    state.default("in_va_kernels", classes)
    st.session_state["in_va_kernels"] = [k for k in st.session_state["in_va_kernels"]
                                         if k in classes]
    chosen = st.multiselect("Kernel classes", classes, key="in_va_kernels")
    shown = comparison[comparison["class"].isin(chosen)]
    scope = ("held-out kernels were not used to fit it; the table scores those" if fitted_here
             else "it was not fitted on this data (a transferred profile); the table scores "
                  "every kernel")
    st.caption(f"Device {device}, profile {profile}; {scope}.")
    if shown.empty:
        st.info("Choose at least one kernel class.")
        return
    title = f"{device}: predicted against measured"
    st.plotly_chart(scatter(shown, title), key="chart_validation")
    st.download_button("Download PNG", lambda: scatter_png(shown, title),
                       f"validation-{Path(name).name}.png", "image/png", key="png_validation",
                       on_click="ignore")
    st.markdown("**Error by kernel class and dtype** (absolute percentage error)")
    tables.show(scored_errors(shown, fitted_here), "held_out_errors", "va_errors")
    st.markdown("**Every measured kernel**")
    tables.show(shown, "kernel_comparison", "va_kernels", max_height=300)


def _published() -> None:
    from validation.compare.published import SOURCES

    st.subheader("Published results")
    state.default("in_va_sources", list(SOURCES))
    sources = st.multiselect("Sources", SOURCES, key="in_va_sources")
    st.caption("Traces every case's model: a minute or more for all sources.")
    key = tuple(sources)
    if st.button("Compare with published results", key="va_published", disabled=not sources):
        st.session_state["va_published_for"] = key
    if st.session_state.get("va_published_for") != key:
        return
    with st.spinner("Running the published cases..."), state.user_errors():
        result = state.published_comparison(key)
    summary = pd.DataFrame([vars(s) for s in result.summary()])
    tables.show(summary, "published_summary", "va_pub_summary")
    tables.show(result.to_frame(), "published_cases", "va_pub_cases", max_height=400)
    if result.skipped:
        st.markdown("**Cases archsim cannot express**")
        tables.show(pd.DataFrame([vars(s) for s in result.skipped]), "published_skipped",
                    "va_pub_skipped")


def render() -> None:
    st.title("Validation")
    _measured()
    _published()
    from app_pages import plan_check

    plan_check.render_section()


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
