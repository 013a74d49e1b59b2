"""Hardware: the shipped specs with the source of every number, and custom uploaded specs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import state, tables
from archsim_cli.defaults import DEFAULT_DEVICE
from hwspecs.dtypes import DType
from hwspecs.schema import RENT_BASIS, DeviceSpec

_TFLOPS, _GB, _TBPS = 1e12, 1e9, 1e12


def _peak(d: DeviceSpec, dtype: DType) -> float | None:
    v = d.matrix_peak_flops_per_s.get(dtype)
    return None if v is None else v / _TFLOPS


def device_frame(names: list[str]) -> pd.DataFrame:
    """One row per device, dense peaks, in display units."""
    custom = state.custom_devices()
    rows = []
    for name in names:
        d = state.get_device(name)
        rows.append({
            "name": d.name, "device": d.display_name, "vendor": d.vendor,
            "bf16 TFLOP/s": _peak(d, DType.BF16), "fp8 TFLOP/s": _peak(d, DType.FP8),
            "fp4 TFLOP/s": _peak(d, DType.FP4), "memory (GB)": d.mem_capacity_bytes / _GB,
            "bandwidth (TB/s)": d.mem_bw_bytes_per_s / _TBPS, "TDP (W)": d.tdp_w,
            "rent ($/h)": d.rent_usd_per_hour,
            # the note on a part no cloud lists is in its spec table below: too wide here
            "rent from": d.rent_provider or ("no cloud lists it" if d.rent_usd_per_hour is None
                                             else ""),
            "purchase ($)": d.purchase_price_usd,
            "spec": "uploaded" if name in custom else "shipped",
        })
    return pd.DataFrame(rows)


def spec_frame(raw: dict) -> pd.DataFrame:
    """Every field of a spec YAML in its own units, with its note, date and citation."""
    sources = raw.get("sources", {})
    rows = []
    for section, value in raw.items():
        if not isinstance(value, dict) or section in ("sources", "not_sourced"):
            continue
        for key, entry in value.items():
            row = {"field": f"{section}.{key}", "value": str(entry), "date": "", "note": "",
                   "source": "", "citation": ""}
            if isinstance(entry, dict):
                value = entry.get("value")
                row.update(value=f"{value:g}" if isinstance(value, int | float) else
                           ("" if value is None else str(value)),
                           date=str(entry.get("date", "")), note=str(entry.get("note", "")),
                           source=str(entry.get("source", "")),
                           citation=sources.get(entry.get("source"), ""))
            rows.append(row)
    for field, why in (raw.get("not_sourced") or {}).items():
        rows.append({"field": field, "value": "left out", "date": "", "note": why,
                     "source": "", "citation": ""})
    return pd.DataFrame(rows)


def _raw(name: str) -> dict:
    custom = state.custom_devices().get(name)
    if custom:
        return custom[1]
    from hwspecs.load import read_yaml

    return read_yaml(state.get_device(name).path)


def _upload() -> None:
    st.subheader("Add a custom device")
    st.caption("Upload a device YAML in the shipped format (download one below as a template). "
               "It is checked like a shipped spec and stays for this session, on every page.")
    upload = st.file_uploader("Device spec (.yaml)", type=["yaml", "yml"], key="up_spec")
    if upload is None:
        return
    try:
        device = state.add_custom_device(upload.name, upload.getvalue())
    except state.USER_ERRORS as exc:
        st.error(state.message_of(exc))
        return
    st.success(f"Added {device.display_name} as '{device.name}': choose it on Compare and "
               "What-if.")


def render() -> None:
    st.title("Hardware")
    _upload()
    names = state.device_choices()
    st.subheader("Devices (dense matrix peaks)")
    with state.user_errors():
        frame = device_frame(names)
        # The device names its vendor; "spec" only matters once a device is uploaded; whose
        # list a rent is goes in the caption. The view leaves them out so prices and TDP fit
        # the page (the CSV keeps them).
        hide = ("vendor", "rent from") + (() if state.custom_devices() else ("spec",))
        tables.show(frame, "devices", "devices", max_height=700, hide=hide,
                    widths={"device": "medium"})
        providers = frame[frame["rent from"] != ""].groupby("rent from")["name"].apply(list)
        listed = "; ".join(f"{p}: {', '.join(n)}" for p, n in providers.items())
    st.caption(f"Rents: {RENT_BASIS}. From {listed}. Every page that ranks has a price field "
               "per device.")
    st.subheader("Every number and its source")
    state.default("in_hw_device", DEFAULT_DEVICE if DEFAULT_DEVICE in names else names[0])
    name = st.selectbox("Device", names, key="in_hw_device")
    with state.user_errors():
        device = state.get_device(name)
        raw = _raw(name)
    st.markdown(f"**{device.display_name}** ({device.vendor}"
                + (f", {device.form_factor}" if device.form_factor else "") + ")")
    tables.show(spec_frame(raw), f"{name}_spec", "spec", max_height=900)
    if device.path:
        st.download_button(f"Download {name}.yaml (a template for your own)",
                           Path(device.path).read_bytes(), f"{name}.yaml", "application/yaml",
                           key="yaml_template", on_click="ignore")


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
