"""Training: the plan search's best plans for a model on a system, and why others were refused.

The numbers are `simulator.planner.search.search_training`'s, called as `archsim train --search` calls
it (see `state.train_search`); this page only turns report fields into display units.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages import kernels, png, prices, scenario, state, tables
from archsim_cli.defaults import DEFAULT_SYSTEM
from archsim_cli.families import family_error_lines

DTYPES = ("bf16", "fp16", "fp8")
PLAN_FIELDS = ("tp", "pp", "dp", "zero", "micro-batch", "sp", "recompute")
GB = 1e9


def plans_frame(ranked, top: int, uncertainty=()) -> pd.DataFrame:
    """The best `top` plans, one row each, in the units their headers name; with the search's
    `uncertainty`, each plan's family error as `archsim train --search` shows it."""
    rows = []
    labels = [u.label() for u in uncertainty]
    for i, r in enumerate(ranked[:top]):
        p = r.plan
        rows.append({
            "rank": i + 1, "plan": p.label(), "tp": p.tp, "pp": p.pp, "dp": p.dp,
            "zero": p.zero, "micro-batch": p.micro_batch, "sp": p.sp,
            "recompute": p.recompute.value, "step time (s)": r.step_time_s,
            "tokens/s": r.tokens_per_s, "MFU": r.mfu,
            "memory/GPU (GB)": r.memory_bytes_per_gpu / GB,
            "capacity (GB)": r.footprint.capacity_bytes / GB,
            "$/1M tokens": r.cost.usd_per_1m_tokens, "days to train": r.days,
            "cost to train ($)": r.usd,
            **({"family err": labels[i]} if i < len(labels) else {}),
        })
    return pd.DataFrame(rows)


def refused_frame(result) -> pd.DataFrame:
    return pd.DataFrame([{"reason": k, "plans": n, "example": why}
                         for k, n, why in result.refusal_counts()],
                        columns=["reason", "plans", "example"])


def _inputs() -> dict:
    for key, value in (("in_tr_system", DEFAULT_SYSTEM), ("in_tr_gpus", 8),
                       ("in_tr_seq", 2048), ("in_tr_batch", 64), ("in_tr_dtype", "bf16"),
                       ("in_tr_objective", "throughput"), ("in_tr_tokens_b", 1000.0),
                       ("in_tr_top", 10), ("in_tr_pricing", "rent")):
        state.default(key, value)
    c = st.columns(4)
    system = c[0].selectbox("System", state.system_choices(), key="in_tr_system",
                            help="A system, or a device that scales out as `--system` does.")
    gpus = int(c[1].number_input("GPUs", 1, 65536, key="in_tr_gpus"))
    seq = int(c[2].number_input("Sequence length", 1, 1_048_576, key="in_tr_seq"))
    batch = int(c[3].number_input("Global batch (sequences)", 1, 1_048_576, key="in_tr_batch"))
    c = st.columns(4)
    dtype = c[0].selectbox("Compute dtype", DTYPES, key="in_tr_dtype")
    objective = c[1].radio("Rank by", ("throughput", "cost"), key="in_tr_objective",
                           horizontal=True)
    pricing = c[1].radio("Dollars from", ("rent", "tco"), key="in_tr_pricing",
                         horizontal=True)
    tokens_b = c[2].number_input("Train on (billion tokens)", 0.0, 1e6, key="in_tr_tokens_b",
                                 help="0: leave out time and cost to train.")
    top = int(c[3].number_input("Plans shown", 1, 1000, key="in_tr_top"))
    rents = prices.rent_fields([system], "in_tr_rent", where=st)
    return {"system": system, "gpus": gpus, "seq": seq, "batch": batch, "dtype": dtype,
            "objective": objective, "pricing": pricing, "tokens": tokens_b * 1e9 if tokens_b > 0 else None,
            "top": top, "rents": rents}


def _best(best, tokens: float | None) -> None:
    cols = st.columns(5)
    cols[0].metric("Step time", f"{best.step_time_s:,.4f} s")
    cols[1].metric("MFU", f"{best.mfu:.1%}")
    cols[2].metric("Memory per GPU", f"{best.memory_bytes_per_gpu / GB:,.2f} GB")
    if tokens is not None and best.days is not None:
        cols[3].metric(f"Days for {tokens / 1e9:,.0f}B tokens", f"{best.days:,.2f}")
        cols[4].metric("Cost to train", "-" if best.usd is None else f"${best.usd:,.0f}")


def _chart(frame: pd.DataFrame) -> None:
    fig = px.scatter(frame, x="memory/GPU (GB)", y="tokens/s", hover_name="plan",
                     color="MFU", title="Plans shown: throughput against memory per GPU")
    st.plotly_chart(fig, key="chart_train")
    st.download_button("Download PNG", lambda: scatter_png(frame), "training_plans.png",
                       "image/png", key="png_train", on_click="ignore")


def scatter_png(frame: pd.DataFrame) -> bytes:
    plt = png._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(frame["memory/GPU (GB)"], frame["tokens/s"], c=frame["MFU"])
    ax.set_xlabel("memory per GPU (GB)")
    ax.set_ylabel("tokens/s")
    ax.set_title("Training plans: throughput against memory per GPU")
    data = png._png(fig)
    plt.close(fig)
    return data


def render() -> None:
    st.title("Training")
    scenario._defaults()
    model = scenario._model_ref()
    source = kernels.switch()
    inp = _inputs()
    if not model:
        st.info("Choose a model in the sidebar.")
        return
    with st.spinner("Tracing the training step and searching plans..."), state.user_errors():
        system, result, share = state.train_search(
            model, inp["system"], inp["gpus"], inp["seq"], inp["batch"], inp["dtype"],
            inp["pricing"], inp["objective"], inp["tokens"], inp["rents"], source)
    st.caption(f"{inp['gpus']} x {system.device.display_name} ({system.name}): "
               f"{len(result.ranked)} feasible plans of {result.evaluated}, ranked by "
               f"{result.objective}.")
    if not result.ranked:
        st.error(f"No plan of {inp['gpus']} GPUs fits this model and batch on "
                 f"{system.name}; see the refused plans below.")
    else:
        _best(result.ranked[0], inp["tokens"])
        kernels.caption(share, f"Best plan ({result.ranked[0].plan.label()})")
        frame = plans_frame(result.ranked, inp["top"], result.uncertainty)
        st.subheader("Best plans")
        # The plan label names tp, pp, dp, ZeRO, micro-batch, sp and recompute, and every plan
        # has the same capacity: the view leaves those columns out so the table fits the page
        # (the CSV keeps them).
        tables.show(frame, "training_plans", "train_plans",
                    hide=(*PLAN_FIELDS, "capacity (GB)"))
        lines = family_error_lines(result.uncertainty[:inp["top"]])
        if lines:
            st.caption("  \n".join(line.strip() for line in lines))
        _chart(frame)
    st.subheader("Refused plans")
    tables.show(refused_frame(result), "refused_plans", "train_refused")


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
