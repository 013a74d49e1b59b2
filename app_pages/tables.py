"""Reports as the tables the pages show, in display units named in each column header.

Every value is a report field times a unit factor (seconds to ms, bytes to GB): no formulas.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages.scenario import Priced

MS, GB = 1e3, 1e9
FOOTPRINT_PARTS = (("weights", "weights_bytes"), ("KV cache", "kv_cache_bytes"),
                   ("activations", "activation_bytes"), ("gradients", "gradient_bytes"),
                   ("optimizer states", "optimizer_bytes"))


def need_text(report) -> str:
    fp = report.footprint
    return f"needs {fp.total_bytes / GB:,.1f} GB of {fp.capacity_bytes / GB:,.1f} GB"


def fits_text(report) -> str:
    return "yes" if report.footprint.feasible else f"no: {need_text(report)}"


def kpi_frame(priced: list[Priced]) -> pd.DataFrame:
    rows = []
    for p in priced:
        r = p.report
        row = {
            "device": r.device, "phase": r.phase.value, "batch": r.batch, "seq": r.seq,
            "context": r.context, "latency (ms)": r.time_s * MS,
            "tokens/s": r.tokens_per_s, "memory (GB)": r.footprint.total_bytes / GB,
            "capacity (GB)": r.footprint.capacity_bytes / GB, "fits": fits_text(r),
            "$/1M tokens": r.cost.usd_per_1m_tokens, "J/token": r.cost.j_per_token,
            "bound": r.bound, "profile": r.profile_origin or r.profile,
        }
        if r.phase.value == "train":
            row["MFU"] = r.mfu
        else:
            row["max batch"] = r.max_batch
        rows.append(row)
    return pd.DataFrame(rows)


def kind_frame(priced: list[Priced]) -> pd.DataFrame:
    """Time by kernel kind, one row per (phase, device, kind)."""
    parts = []
    for p in priced:
        by = p.report.by_kind().reset_index()
        parts.append(pd.DataFrame({
            "phase": p.step.phase, "device": p.report.device, "kind": by["kind"],
            "kernels": by["ops"], "time (ms)": by["time_s"] * MS,
            "share": by["time_s"] / p.report.ops.total_s if p.report.ops.total_s else 0.0,
        }))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def memory_frame(priced: list[Priced]) -> pd.DataFrame:
    """The footprint by part, one row per (phase, device, part), with the capacity."""
    rows = []
    for p in priced:
        fp = p.report.footprint
        for label, attr in FOOTPRINT_PARTS:
            rows.append({"phase": p.step.phase, "device": p.report.device, "part": label,
                         "GB": getattr(fp, attr) / GB, "capacity (GB)": fp.capacity_bytes / GB,
                         "fits": fp.feasible})
    return pd.DataFrame(rows)


NUMBER_FORMATS = {
    "latency (ms)": "%.3f", "tokens/s": "%.1f", "memory (GB)": "%.2f",
    "capacity (GB)": "%.1f", "$/1M tokens": "$%.4f", "J/token": "%.4f", "MFU": "%.3f",
    "time (ms)": "%.4f", "share": "%.3f", "GB": "%.3f", "baseline": "%.4g",
    "what-if": "%.4g", "change (%)": "%+.1f", "x0.5 (%)": "%+.1f", "x2 (%)": "%+.1f",
}


def show(frame: pd.DataFrame, name: str, key: str, hide: tuple[str, ...] = (),
         max_height: int = 400, widths: dict[str, str] | None = None) -> None:
    """A table with its CSV download; numbers keep full precision, only the view rounds.
    `hide` leaves columns out of the view (the CSV keeps them); `widths` caps text columns
    ("small", "medium", "large": a long cell shows whole on hover) so the table fits."""
    config = {c: st.column_config.NumberColumn(format=f) for c, f in NUMBER_FORMATS.items()
              if c in frame.columns}
    for column, width in (widths or {}).items():
        if column in frame.columns:
            config[column] = st.column_config.TextColumn(width=width)
    st.dataframe(frame, hide_index=True, column_config=config, width="stretch",
                 height=min(35 * (len(frame) + 1) + 3, max_height),
                 column_order=[c for c in frame.columns if c not in hide])
    st.download_button("Download CSV", frame.to_csv(index=False).encode(), f"{name}.csv",
                       "text/csv", key=f"csv_{key}", on_click="ignore")
