"""What-if: scale one device's spec fields and see the effect; which field matters most."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import charts, kernels, png, scenario, sensitivity, state, tables
from archsim_cli.defaults import DEFAULT_DEVICE

_COMPARED = ("latency (ms)", "tokens/s", "memory (GB)", "capacity (GB)", "$/1M tokens",
             "J/token", "max batch", "MFU")


def _reset() -> None:
    for field in sensitivity.FIELDS:
        st.session_state[f"in_wi_{field}"] = 1.0


def _sliders() -> dict[str, float]:
    cols = st.columns(4)
    factors = {}
    for i, (field, label) in enumerate(sensitivity.FIELDS.items()):
        key = f"in_wi_{field}"
        state.default(key, 1.0)
        with cols[i % 4]:
            factors[field] = st.select_slider(label, sensitivity.STEPS, key=key,
                                              format_func=lambda v: f"x{v:g}")
    st.button("Reset to the spec", on_click=_reset, key="wi_reset")
    if factors["link"] != 1.0:
        st.caption("Link bandwidth changes nothing on one device; it matters once a workload "
                   "spans devices.")
    return factors


def change_frame(base: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Spec versus what-if, one row per (phase, metric)."""
    rows = []
    for (_, b), (_, n) in zip(base.iterrows(), new.iterrows(), strict=True):
        for metric in (m for m in _COMPARED if m in base.columns):
            was, now = b[metric], n[metric]
            if was is None or now is None or pd.isna(was) or pd.isna(now):
                continue
            change = 100.0 * (now / was - 1.0) if was else float("nan")
            rows.append({"phase": b["phase"], "metric": metric, "baseline": float(was),
                         "what-if": float(now), "change (%)": change})
    return pd.DataFrame(rows)


def _metrics(base, new, changed: bool) -> None:
    for b, n in zip(base, new, strict=True):
        cols = st.columns(4)
        delta = f"{100 * (n.report.time_s / b.report.time_s - 1):+.1f}%" if changed else None
        cols[0].metric(f"{b.step.phase}: latency", f"{n.report.time_s * 1e3:,.3f} ms", delta,
                       delta_color="inverse")
        cols[1].metric(f"{b.step.phase}: tokens/s", f"{n.report.tokens_per_s:,.1f}")
        usd = n.report.cost.usd_per_1m_tokens
        cols[2].metric(f"{b.step.phase}: $/1M tokens", "-" if usd is None else f"${usd:,.4f}")
        cols[3].metric(f"{b.step.phase}: fits", tables.fits_text(n.report),
                       None if n.report.footprint.feasible == b.report.footprint.feasible
                       else f"spec: {tables.fits_text(b.report)}", delta_color="off")


def _tornado(sc, workloads, device) -> None:
    st.subheader("Which spec field matters most")
    state.default("in_wi_metric", "latency")
    metric = st.radio("Metric", list(sensitivity.METRICS), key="in_wi_metric",
                      horizontal=True)
    phases = [s.phase for s in workloads]
    state.default("in_wi_phase", phases[0])
    if st.session_state["in_wi_phase"] not in phases:
        st.session_state["in_wi_phase"] = phases[0]
    phase = st.radio("Phase", phases, key="in_wi_phase", horizontal=True) \
        if len(phases) > 1 else phases[0]
    step = next(s for s in workloads if s.phase == phase)
    st.caption(f"Each field alone at x0.5 and x2 of the what-if point above, on {phase}.")
    with state.user_errors():
        frame = sensitivity.tornado_frame(workloads[step], device, sc.options(), metric)
    st.plotly_chart(charts.tornado(frame, metric), key="chart_tornado")
    st.download_button("Download PNG", lambda: png.tornado_png(frame, metric),
                       "sensitivity.png", "image/png", key="png_tornado", on_click="ignore")
    tables.show(frame, "sensitivity", "tornado")


def render() -> None:
    st.title("What-if")
    sc = scenario.sidebar()
    choices = state.device_choices()
    state.default("in_wi_device", DEFAULT_DEVICE if DEFAULT_DEVICE in choices else choices[0])
    name = st.selectbox("Device", choices, key="in_wi_device")
    if sc is None:
        return
    with state.user_errors():
        device = state.get_device(name)
    factors = _sliders()
    with state.user_errors():
        what = sensitivity.scaled(device, factors)
    workloads = scenario.trace(sc)
    base, errors = scenario.price(sc, workloads, [device])
    new, _ = scenario.price(sc, workloads, [what])
    for message in errors:
        st.error(message)
    if not base:
        return
    st.subheader(f"{device.display_name}: spec against what-if")
    _metrics(base, new, what is not device)
    for p in new:
        kernels.caption(p.share, f"What-if {p.step.phase}")
    tables.show(change_frame(tables.kpi_frame(base), tables.kpi_frame(new)), "what_if",
                "whatif")
    _tornado(sc, workloads, what)


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
