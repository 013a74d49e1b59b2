"""Compare: one model step on several devices side by side."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app_pages import charts, png, prices, scenario, state, tables


def _devices() -> list:
    """The chosen devices; a URL may preset them (`?devices=h100-sxm,b200`)."""
    choices = state.device_choices()
    if "in_devices" not in st.session_state and st.query_params.get("devices"):
        asked = [d.strip() for d in st.query_params["devices"].split(",") if d.strip()]
        unknown = [d for d in asked if d not in choices]
        if unknown:
            st.warning(f"URL devices not known here: {', '.join(unknown)}.")
        state.default("in_devices", [d for d in asked if d in choices])
    state.default("in_devices", [d for d in scenario.DEFAULT_DEVICES if d in choices])
    kept = [d for d in st.session_state["in_devices"] if d in choices]
    if kept != st.session_state["in_devices"]:
        st.session_state["in_devices"] = kept
    names = st.sidebar.multiselect("Devices", choices, key="in_devices",
                                   help="Shipped specs, plus any uploaded on the Hardware page.")
    with state.user_errors():
        return [state.get_device(n) for n in names]


def _headline(priced) -> None:
    """Which device wins each step on speed and on dollars."""
    for step in dict.fromkeys(p.step for p in priced):
        rows = [p for p in priced if p.step == step and p.report.footprint.feasible]
        if not rows:
            st.warning(f"{step.label}: the model does not fit on any chosen device.")
            continue
        fastest = min(rows, key=lambda p: p.report.time_s)
        priced_rows = [p for p in rows if p.report.cost.usd_per_1m_tokens is not None]
        text = f"**{step.label}**: fastest **{fastest.device.name}**"
        if priced_rows:
            cheapest = min(priced_rows, key=lambda p: p.report.cost.usd_per_1m_tokens)
            text += f", cheapest per token **{cheapest.device.name}**"
        st.markdown(text)


def _png_button(label: str, make, name: str, key: str) -> None:
    st.download_button(label, make, f"{name}.png", "image/png", key=f"png_{key}",
                       on_click="ignore")


def _charts(priced) -> None:
    colors = charts.device_colors([p.device.name for p in priced])
    kinds = tables.kind_frame(priced)
    st.subheader("Time by kernel kind")
    st.plotly_chart(charts.stacked_bars(kinds, "time (ms)", "kind", "time (ms)"),
                    key="chart_kinds")
    _png_button("Download PNG", lambda: png.stacked_bars_png(
        kinds, "time (ms)", "kind", "Time per step by kernel kind"), "time_by_kind", "kinds")
    with st.expander("Time by kernel kind, as a table"):
        tables.show(kinds, "time_by_kind", "kinds")

    st.subheader("Roofline: each kernel on each device's roofs")
    st.plotly_chart(charts.roofline(priced, colors), key="chart_roofline")
    for phase in dict.fromkeys(p.step.phase for p in priced):
        _png_button(f"Download PNG ({phase})", lambda phase=phase: png.roofline_png(
            priced, phase), f"roofline_{phase}", f"roofline_{phase}")

    memory = tables.memory_frame(priced)
    st.subheader("Memory per device, against its capacity")
    fig = charts.stacked_bars(memory, "GB", "part", "GB")
    st.plotly_chart(charts.capacity_marks(fig, memory), key="chart_memory")
    _png_button("Download PNG", lambda: png.stacked_bars_png(
        memory, "GB", "part", "Memory footprint"), "memory", "memory")
    with st.expander("Memory, as a table"):
        tables.show(memory, "memory", "memory")


def render() -> None:
    st.title("Compare devices")
    sc = scenario.sidebar()
    devices = _devices()
    if sc is None:
        return
    if not devices:
        st.info("Choose one or more devices in the sidebar.")
        return
    sc = replace(sc, rents=prices.rent_fields([d.name for d in devices], "in_rent"))
    workloads = scenario.trace(sc)
    first = next(iter(workloads.values()))
    st.caption(f"{first.model.name}: {first.model.params / 1e9:,.2f} B parameters, "
               f"{first.model.layers} layers; precision {sc.options().precision.label}"
               + (", speed of light" if sc.ideal else "")
               + f"; dollars from {sc.pricing}{prices.caption(sc.rents)}"
               + (f"; lowering passes off: {', '.join(sc.disabled_passes)}"
                  if sc.disabled_passes else "") + ".")
    priced, errors = scenario.price(sc, workloads, devices)
    for message in errors:
        st.error(message)
    if not priced:
        return
    _headline(priced)
    st.subheader("Key numbers")
    kpis = tables.kpi_frame(priced)
    tables.show(kpis, "kpis", "kpis", hide=("batch", "seq", "context"))
    for p in priced:
        if not p.report.footprint.feasible:
            st.warning(f"{p.device.name}, {p.step.label}: out of memory "
                       f"({tables.need_text(p.report)}); its times assume it fit.")
    origins = {p.device.name: p.report.profile_origin for p in priced}
    st.caption("Priced with: " + "; ".join(f"**{d}** {o}" for d, o in origins.items()) + ".")
    shares = [p for p in priced if p.share is not None]
    if shares:
        st.caption("Kernels from measurements where they cover them: " + "; ".join(
            f"**{p.device.name}** {p.step.phase} {p.share['measured_share']:.1%} of the time"
            for p in shares) + " (the rest by the fitted model).")
    _charts(priced)


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
