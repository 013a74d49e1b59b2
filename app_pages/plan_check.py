"""The Validation page's plan check: one plan's distinct kernels priced by the fitted model and
from the measured GPU tables (`simulator.plan_kernel_check`, as `archsim check-plan`), the
table and a bar chart of where the two disagree."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app_pages import state, tables

MODELS = ("llama-3.1-8b", "llama-3.1-70b", "qwen3-32b")
SYSTEMS = ("dgx-h100", "dgx-a100")
ENGINES = ("trtllm", "vllm", "sglang")
BARS = 15


@st.cache_data(max_entries=16, show_spinner=False)
def checked(model: str, system: str, tp: int, phase: str, batch: int, context: int,
            dtype: str, engine: str) -> pd.DataFrame:
    from simulator import KernelSource, Options, Plan, Precision, plan_kernel_check, system_for_gpus

    seq, ctx = (1, context) if phase == "decode" else (context, 0)
    w = state.workload(model, phase, batch, seq, ctx)
    options = Options(precision=Precision.parse(dtype), engine=engine,
                      kernels=KernelSource.MEASURED)
    frame = plan_kernel_check(w, system_for_gpus(system, tp), Plan(tp=tp), options)
    gap = (frame["model_s"] - frame["measured_s"]).abs() * frame["count"]
    return frame.assign(discrepancy_s=gap).sort_values(
        ["discrepancy_s", "priced_s"], ascending=False, na_position="last"
    ).reset_index(drop=True)


def chart(frame: pd.DataFrame, title: str) -> go.Figure:
    """Time per step of the kernels both ways sets a price for, largest disagreement first."""
    both = frame[frame["source"] == "measured"].head(BARS)
    labels = [f"{k} {s}" for k, s in zip(both["kernel"], both["shape"], strict=True)]
    fig = go.Figure([go.Bar(name="measured", x=labels, y=both["measured_s"] * both["count"] * 1e6),
                     go.Bar(name="fitted model", x=labels,
                            y=both["model_s"] * both["count"] * 1e6)])
    fig.update_layout(barmode="group", title=title, yaxis_title="µs per step")
    return fig


def render_section() -> None:
    st.subheader("One plan, kernel by kernel: fitted model against the measured tables")
    cols = st.columns(4)
    model = cols[0].selectbox("Model", MODELS, index=1, key="in_pc_model")
    system = cols[1].selectbox("System", SYSTEMS, key="in_pc_system")
    tp = cols[2].selectbox("TP", (1, 2, 4, 8), index=3, key="in_pc_tp")
    phase = cols[3].selectbox("Phase", ("decode", "prefill"), key="in_pc_phase")
    cols = st.columns(4)
    batch = cols[0].number_input("Batch", 1, 1024, 32, key="in_pc_batch")
    context = cols[1].number_input("Context / prompt tokens", 1, 131072, 2048,
                                   key="in_pc_context")
    dtype = cols[2].selectbox("Precision", ("bf16", "fp8", "fp8/kv=fp8"), key="in_pc_dtype")
    engine = cols[3].selectbox("Engine", ENGINES, key="in_pc_engine")
    key = (model, system, int(tp), phase, int(batch), int(context), dtype, engine)
    if st.button("Check the plan", key="pc_run"):
        st.session_state["pc_for"] = key
    if st.session_state.get("pc_for") != key:
        return
    with st.spinner("Tracing and pricing the plan..."), state.user_errors():
        frame = checked(*key)
    total = float((frame["priced_s"] * frame["count"]).sum())
    model_s = float((frame["model_s"] * frame["count"]).sum())
    share = float((frame["priced_s"] * frame["count"])[frame["source"] == "measured"].sum())
    st.caption(f"Step: {total * 1e3:,.3f} ms measured where covered, {model_s * 1e3:,.3f} ms "
               f"by the fitted model; {share / total:.1%} of the step priced from "
               "measurements." if total > 0 else "An empty step.")
    if (frame["source"] == "measured").any():
        st.plotly_chart(chart(frame, f"{model} {phase} on {system}, TP{tp}"),
                        key="chart_plan_check")
    tables.show(frame, "plan_check", "pc_table", max_height=400,
                widths={"reason": "medium", "kernel": "small"})
