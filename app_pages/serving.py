"""Serving & capacity: which hardware, TP and replica count hold a traffic within p99 SLOs,
ranked by cost; then one option's request-level simulation over time; and the concurrency
sweep deployments are chosen from: output tokens/s per GPU against per user for each TP
(aggregated and disaggregated), with the Pareto front, the SLO line and the table behind it.

Numbers are `simulator.serving.capacity.plan_capacity`'s and `simulator.serving.simulation.simulate_serving`'s,
called as `archsim plan-capacity` and `archsim serve` call them (see `state`).
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages import kernels, png, prices, scenario, state, tables
from simulator import STEADY_STATE

ENGINES = ("none", "trtllm", "vllm", "sglang")

DEFAULT_HW = ["h100-sxm", "mi300x"]
TPS = (1, 2, 4, 8)
PRECISIONS = ("bf16", "fp8", "fp16")
WEIGHT_CHOICES = ("same", "fp8", "int4", "nvfp4", "mxfp4")
KV_CHOICES = ("auto", "bf16", "fp8")
MS = 1e3


def capacity_frame(cands) -> pd.DataFrame:
    """Feasible candidates, cheapest first, in the units their headers name."""
    return pd.DataFrame([{
        "rank": i + 1, "hardware": c.hardware, "device": c.device, "TP": c.tp,
        "dtype": c.precision, "req/s per replica": c.max_rate_per_replica,
        "replicas": c.replicas, "GPUs": c.gpus, "$/hour": c.usd_per_hour,
        "$/1M tokens": c.usd_per_1m_tokens, "$/1M output tokens": c.usd_per_1m_output_tokens,
        "TTFT p99 (ms)": c.ttft_p99_s * MS, "TPOT p99 (ms)": c.tpot_p99_s * MS,
        "e2e p99 (ms)": c.e2e_p99_s * MS, "Pareto": c.pareto} for i, c in enumerate(cands)])


def refused_frame(cands) -> pd.DataFrame:
    return pd.DataFrame([{"hardware": c.hardware, "TP": c.tp, "dtype": c.precision,
                          "kind": c.kind, "why": c.reason} for c in cands],
                        columns=["hardware", "TP", "dtype", "kind", "why"])


def percentile_frame(metrics: dict) -> pd.DataFrame:
    rows = []
    for name, key in (("time to first token", "ttft"), ("time per output token", "tpot"),
                      ("end-to-end latency", "e2e")):
        rows.append({"latency": name, "mean (ms)": metrics[f"{key}_mean_s"] * MS,
                     **{f"p{p} (ms)": metrics[f"{key}_p{p}_s"] * MS for p in (50, 90, 99)}})
    return pd.DataFrame(rows)


def _traffic_inputs() -> dict:
    for key, value in (("in_sv_hw", DEFAULT_HW), ("in_sv_tps", [1, 2]),
                       ("in_sv_dtypes", ["bf16"]), ("in_sv_qps", 10.0),
                       ("in_sv_input", "512"), ("in_sv_output", "128"),
                       ("in_sv_ttft_ms", 500.0), ("in_sv_tpot_ms", 50.0),
                       ("in_sv_requests", STEADY_STATE.requests), ("in_sv_pricing", "rent")):
        state.default(key, value)
    c = st.columns(3)
    hw = c[0].multiselect("Hardware", state.system_choices(), key="in_sv_hw")
    tps = c[1].multiselect("TP degrees", TPS, key="in_sv_tps")
    dtypes = c[2].multiselect("Precisions", PRECISIONS, key="in_sv_dtypes",
                              help="compute formats (the weights too unless set below)")
    state.default("in_sv_weights", ["same"])
    state.default("in_sv_kvs", ["auto"])
    c = st.columns(3)
    weights = c[0].multiselect("Weights", WEIGHT_CHOICES, key="in_sv_weights",
                               help="weight formats apart from the compute format (same: "
                                    "the compute format)")
    kvs = c[1].multiselect("KV cache", KV_CHOICES, key="in_sv_kvs",
                           help="KV-cache formats apart from the compute format (auto: the "
                                "compute format if 16 bits or wider, else bf16, as vLLM's "
                                "auto: fp8 keeps a bf16 KV cache)")
    c = st.columns(4)
    qps = c[0].number_input("Requests/s", 0.0, 1e7, key="in_sv_qps")
    inp = c[1].text_input("Input length", key="in_sv_input",
                          help="512, uniform:128:1024 or lognormal:512:0.5")
    out = c[2].text_input("Output length", key="in_sv_output", help="as the input length")
    requests = int(c[3].number_input(
        "Requests per replication", 20, 100_000, key="in_sv_requests",
        help="each rate's steady-state estimate, as `archsim plan-capacity --requests`: "
             + STEADY_STATE.describe()))
    c = st.columns(3)
    ttft = c[0].number_input("p99 TTFT target (ms)", 0.0, 1e7, key="in_sv_ttft_ms")
    tpot = c[1].number_input("p99 TPOT target (ms)", 0.0, 1e7, key="in_sv_tpot_ms")
    pricing = c[2].radio("Dollars from", ("rent", "tco"), key="in_sv_pricing", horizontal=True)
    rents = prices.rent_fields(list(hw), "in_sv_rent", where=st)
    from simulator import Precision

    with state.user_errors():
        dtypes = Precision.combinations(dtypes, tuple(weights), tuple(kvs)) if dtypes else ()
    return {"hw": tuple(hw), "tps": tuple(sorted(tps)), "dtypes": tuple(dtypes),
            "qps": float(qps), "input": inp.strip(), "output": out.strip(),
            "ttft_s": ttft / MS, "tpot_s": tpot / MS, "requests": requests,
            "pricing": pricing, "rents": rents}


def pareto_chart(frame: pd.DataFrame) -> go.Figure:
    shown = frame.assign(front=frame["Pareto"].map({True: "Pareto front", False: "dominated"}),
                         option=frame["hardware"] + " TP" + frame["TP"].astype(str) + " "
                         + frame["dtype"])
    fig = px.scatter(shown, x="$/hour", y="e2e p99 (ms)", color="front", hover_name="option",
                     symbol="front", title="Cost against p99 end-to-end latency")
    front = shown[shown["Pareto"]].sort_values("$/hour")
    fig.add_trace(go.Scatter(x=front["$/hour"], y=front["e2e p99 (ms)"], mode="lines",
                             line={"dash": "dot"}, name="front", showlegend=False))
    return fig


def pareto_png(frame: pd.DataFrame) -> bytes:
    plt = png._pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for pareto, marker in ((False, "o"), (True, "*")):
        part = frame[frame["Pareto"] == pareto]
        ax.scatter(part["$/hour"], part["e2e p99 (ms)"], marker=marker,
                   s=120 if pareto else 40, label="Pareto front" if pareto else "dominated")
    ax.set_xlabel("$/hour")
    ax.set_ylabel("e2e p99 (ms)")
    ax.legend()
    data = png._png(fig)
    plt.close(fig)
    return data


def _capacity(model: str, inp: dict):
    if not (inp["hw"] and inp["tps"] and inp["dtypes"]):
        st.info("Choose at least one hardware, TP degree and precision.")
        return None
    with st.spinner("Finding each option's largest rate within the SLOs..."), \
            state.user_errors():
        plan = state.capacity_plan(model, inp["qps"], inp["input"], inp["output"],
                                   inp["ttft_s"], inp["tpot_s"], inp["hw"], inp["tps"],
                                   inp["dtypes"], inp["requests"], inp["pricing"],
                                   inp["rents"], inp["kernels"])
    if plan.ranked:
        st.subheader("Options that hold the traffic, cheapest first")
        frame = capacity_frame(plan.ranked)
        tables.show(frame, "capacity", "capacity")
        st.plotly_chart(pareto_chart(frame), key="chart_pareto")
        st.download_button("Download PNG", lambda: pareto_png(frame), "capacity_pareto.png",
                           "image/png", key="png_pareto", on_click="ignore")
    else:
        best = plan.best_reachable()
        where = "" if best is None else (
            f"; the best reachable is {best.hardware} TP{best.tp} {best.precision} with p99 "
            f"TTFT {best.ttft_p99_s * MS:.1f} ms and TPOT {best.tpot_p99_s * MS:.2f} ms at "
            "low load")
        st.error(f"No configuration meets the SLOs{where}.")
    if plan.refused:
        st.subheader("Refused options")
        tables.show(refused_frame(plan.refused), "capacity_refused", "capacity_refused")
    return plan


def _simulation(model: str, inp: dict, plan) -> None:
    st.subheader("One option over time")
    labels = [f"{c.hardware} TP{c.tp} {c.precision} x{c.replicas}" for c in plan.ranked]
    state.default("in_sv_option", labels[0])
    if st.session_state["in_sv_option"] not in labels:
        st.session_state["in_sv_option"] = labels[0]
    choice = st.selectbox("Option", labels, key="in_sv_option")
    c = plan.ranked[labels.index(choice)]
    duration = inp["requests"] / inp["qps"]
    with st.spinner("Simulating the requests..."), state.user_errors():
        result, share = state.serving_run(model, c.hardware, c.tp, c.precision, c.replicas,
                                          inp["qps"], duration, inp["input"], inp["output"],
                                          inp["ttft_s"], inp["tpot_s"], inp["kernels"])
    m = result.metrics()
    cols = st.columns(4)
    cols[0].metric("Completed / dropped", f"{m['completed']} / {m['dropped']}")
    cols[1].metric("Output tokens/s", f"{m['output_tokens_per_s']:,.0f}")
    cols[2].metric("Goodput (req/s in SLOs)", f"{m['goodput_rps']:,.2f}")
    # The label says the unit, so the value stays short enough for a quarter of the page.
    cols[3].metric("KV cache per replica (tokens)", f"{m['kv_capacity_tokens']:,}")
    tables.show(percentile_frame(m), "serving_latency", "serving_latency")
    kernels.caption(share, "This run")
    timeline = result.timeline_frame()
    fig = px.line(timeline, x="time_s", y="kv_used_fraction", color="replica",
                  title="KV-cache use over time", labels={"kv_used_fraction": "KV used",
                                                          "time_s": "time (s)"})
    st.plotly_chart(fig, key="chart_kv")
    if timeline["queue"].max() > 0:
        fig = px.line(timeline, x="time_s", y="queue", color="replica",
                      title="Queue length over time", labels={"time_s": "time (s)",
                                                              "queue": "requests waiting"})
        fig.update_yaxes(rangemode="tozero")
        st.plotly_chart(fig, key="chart_queue")
    else:   # a flat line at 0 on a -1..1 axis says less than this
        st.caption("Queue length over time: no request waited at any time.")
    tables.show(timeline, "serving_timeline", "serving_timeline", max_height=250)
    tables.show(result.requests_frame(), "serving_requests", "serving_requests",
                max_height=250)


@st.cache_data(max_entries=16, show_spinner=False)
def concurrency_sweep(model_ref: str, hardware: tuple[str, ...], tps: tuple[int, ...],
                      precisions: tuple[str, ...], concurrencies: tuple[int, ...],
                      input_len: str, output_len: str, engine: str, disagg: bool,
                      ttft_s: float, tpot_s: float, pricing: str,
                      rents: tuple[tuple[str, float], ...] = (), kernels: str = "model"):
    """`archsim plan-capacity --concurrency ...` for these inputs."""
    from simulator import (
        CostOptions,
        FrontierQuery,
        Slo,
        concurrency_frontier,
        kernel_fields,
        parse_length,
    )
    from workloads.config import tp_plan_of

    return concurrency_frontier(FrontierQuery(
        model=model_ref, hardware=hardware, tps=tps, precisions=precisions,
        concurrencies=concurrencies, input_len=parse_length(input_len),
        output_len=parse_length(output_len), engine=None if engine == "none" else engine,
        modes=("agg", "disagg") if disagg else ("agg",), slo=Slo(ttft_s, tpot_s),
        cost=CostOptions(pricing=pricing, usd_per_gpu_hour=rents),
        tp_plan=tp_plan_of(model_ref), **kernel_fields(kernels)))


def frontier_frame(points) -> pd.DataFrame:
    return pd.DataFrame([{
        "option": p.label, "mode": p.mode, "TP": p.tp, "dtype": p.precision,
        "concurrency": p.concurrency, "GPUs": p.gpus,
        "tokens/s per GPU": p.output_tokens_per_s_per_gpu,
        "tokens/s per user": p.output_tokens_per_s_per_user,
        "TTFT mean (ms)": p.ttft_mean_s * MS, "TTFT p99 (ms)": p.ttft_p99_s * MS,
        "TPOT mean (ms)": p.tpot_mean_s * MS, "TPOT p99 (ms)": p.tpot_p99_s * MS,
        "$/1M output tokens": p.usd_per_1m_output_tokens, "meets SLO": p.meets_slo,
        "Pareto": p.pareto} for p in points])


def frontier_chart(frame: pd.DataFrame, tpot_s: float | None) -> go.Figure:
    fig = px.line(frame.sort_values("concurrency"), x="tokens/s per user",
                  y="tokens/s per GPU", color="option", markers=True,
                  hover_data=["concurrency", "TTFT p99 (ms)", "TPOT p99 (ms)"],
                  title="Output tokens/s per GPU against per user, over concurrency")
    front = frame[frame["Pareto"]].sort_values("tokens/s per user")
    fig.add_trace(go.Scatter(x=front["tokens/s per user"], y=front["tokens/s per GPU"],
                             mode="lines", line={"dash": "dash", "color": "black"},
                             name="Pareto front"))
    if tpot_s:
        fig.add_vline(x=1 / tpot_s, line_dash="dot", line_color="red",
                      annotation_text=f"SLO: TPOT {tpot_s * MS:g} ms")
    return fig


def frontier_png(frame: pd.DataFrame, tpot_s: float | None) -> bytes:
    plt = png._pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    front = frame[frame["Pareto"]].sort_values("tokens/s per user")
    ax.plot(front["tokens/s per user"], front["tokens/s per GPU"], color="0.6", lw=7,
            alpha=0.5, label="Pareto front")
    for option, part in frame.groupby("option", sort=False):
        part = part.sort_values("concurrency")
        ax.plot(part["tokens/s per user"], part["tokens/s per GPU"], marker="o", ms=3,
                label=option)
    if tpot_s:
        ax.axvline(1 / tpot_s, color="red", ls=":", label=f"SLO: TPOT {tpot_s * MS:g} ms")
    ax.set_xlabel("output tokens/s per user")
    ax.set_ylabel("output tokens/s per GPU")
    ax.legend(fontsize=7)
    data = png._png(fig)
    plt.close(fig)
    return data


def _sweep(model: str, inp: dict) -> None:
    st.subheader("Concurrency sweep: tokens/s per GPU against per user")
    st.caption("Closed loops of N requests in flight at the input and output lengths above "
               "(warm-up and drain left out), for each hardware, TP and precision chosen; "
               "the engine preset sets the scheduler. The SLO line is 1 / the TPOT target; "
               "a point meets the SLOs when its p99 TTFT and TPOT do.")
    for key, value in (("in_sv_engine", "trtllm"), ("in_sv_conc", "1,4,16,64,256"),
                       ("in_sv_disagg", False), ("in_sv_sweep", False)):
        state.default(key, value)
    # NB: off until asked for, so the page's first paint does not wait on the closed loops.
    if not st.toggle("Run the concurrency sweep", key="in_sv_sweep"):
        return
    c = st.columns(3)
    engine = c[0].selectbox("Engine preset", ENGINES, key="in_sv_engine")
    text = c[1].text_input("Concurrencies", key="in_sv_conc", help="e.g. 1,2,4,8,16")
    disagg = c[2].checkbox("Also disaggregated (1 prefill + 1 decode replica)",
                           key="in_sv_disagg")
    with state.user_errors():
        try:
            concs = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
        except ValueError:
            raise ValueError(f"concurrencies must be whole numbers like 1,4,16, not "
                             f"{text!r}") from None
        if not (inp["hw"] and inp["tps"] and inp["dtypes"] and concs):
            st.info("Choose hardware, TP degrees, precisions and concurrencies.")
            return
        with st.spinner("Running the closed loops..."):
            f = concurrency_sweep(model, inp["hw"], inp["tps"], inp["dtypes"], concs,
                                  inp["input"], inp["output"], engine, disagg, inp["ttft_s"],
                                  inp["tpot_s"], inp["pricing"], inp["rents"],
                                  inp["kernels"])
    if f.points:
        frame = frontier_frame(f.points)
        st.plotly_chart(frontier_chart(frame, inp["tpot_s"]), key="chart_frontier")
        st.download_button("Download PNG", lambda: frontier_png(frame, inp["tpot_s"]),
                           "concurrency_sweep.png", "image/png", key="png_frontier",
                           on_click="ignore")
        tables.show(frame, "concurrency_sweep", "concurrency_sweep")
    if f.refused:
        tables.show(pd.DataFrame([r.as_dict() for r in f.refused]), "sweep_refused",
                    "sweep_refused")


def render() -> None:
    st.title("Serving & capacity")
    scenario._defaults()
    model = scenario._model_ref()
    source = kernels.switch()
    inp = {**_traffic_inputs(), "kernels": source}
    if not model:
        st.info("Choose a model in the sidebar.")
        return
    plan = _capacity(model, inp)
    if plan is not None and plan.ranked:
        _simulation(model, inp, plan)
    _sweep(model, inp)


if __name__ == "__main__":   # st.navigation runs this file as the page script
    render()
