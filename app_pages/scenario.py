"""The sidebar shared by Compare and What-if: model, phase and shapes, precision, pricing.

It turns widget values into a `Scenario` (what to trace and how to price it), traces it with a
progress bar, and prices it on devices with the simulator's public API.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from app_pages import kernels, state
from archsim_cli.defaults import (  # noqa: F401 (DEFAULT_DEVICES: Compare's)
    COMPUTE_DTYPES,
    DEFAULT_DEVICES,
    DEFAULT_MODEL,
    DEFAULT_SEQ,
    KV_DTYPES,
    WEIGHT_DTYPES,
)
from hwspecs.schema import DeviceSpec
from simulator import Report

PHASES = {
    "prefill + decode": ("prefill", "decode"),
    "prefill": ("prefill",),
    "decode": ("decode",),
    "train": ("train",),
}
SOURCES = ("Catalog", "Upload config.json", "Hub id or path")
DTYPES = COMPUTE_DTYPES
WEIGHT_DTYPES = ("same", *WEIGHT_DTYPES)
KV_DTYPES = ("same", *KV_DTYPES)
_UPLOADED = "uploaded_config"      # session: (label, path) of the last uploaded config.json


@dataclass(frozen=True)
class Step:
    """One model step to trace: a phase and its shapes."""

    phase: str
    batch: int
    seq: int
    context: int

    @property
    def label(self) -> str:
        if self.phase == "decode":
            return f"decode (batch {self.batch}, context {self.context})"
        return f"{self.phase} (batch {self.batch}, {self.seq} tokens)"


@dataclass(frozen=True)
class Scenario:
    model_ref: str
    steps: tuple[Step, ...]
    dtype: str = "bf16"
    weights: str = "same"
    kv: str = "same"
    sparse: bool = False
    ideal: bool = False
    pricing: str = "rent"
    recompute: str = "none"
    disabled_passes: tuple[str, ...] = ()
    rents: tuple[tuple[str, float], ...] = ()     # $/GPU-hour the user set, per device
    kernels: str = "model"                        # the kernels switch (`app_pages.kernels`)

    def options(self):
        from simulator import CostOptions, Options, Precision, Recompute

        return kernels.with_kernels(Options(
            precision=Precision.parse(self.dtype,
                                      weights=None if self.weights == "same" else self.weights,
                                      kv=None if self.kv == "same" else self.kv,
                                      sparse=self.sparse),
            ideal=self.ideal, recompute=Recompute.parse(self.recompute),
            cost=CostOptions(pricing=self.pricing, usd_per_gpu_hour=self.rents)), self.kernels)


@dataclass(frozen=True)
class Priced:
    step: Step
    device: DeviceSpec
    report: Report
    share: dict | None = None     # with the measured kernels: how much they priced


def steps_for(mode: str, batch: int, seq: int, context: int) -> tuple[Step, ...]:
    """`prefill + decode`: the prompt, then one token with the prompt as its KV cache."""
    # NB: one decode step stands for all output tokens; later ones read a longer cache.
    out = []
    for phase in PHASES[mode]:
        if phase == "decode":
            ctx = seq if mode == "prefill + decode" else context
            out.append(Step("decode", batch, 1, ctx))
        else:
            out.append(Step(phase, batch, seq, 0))
    return tuple(out)


def url_presets() -> dict[str, object]:
    """Start-up values from the page URL, e.g. `/?model=llama-2-7b&phase=decode&context=4096`.

    Read when a session starts (the URL opens on a chosen model); a bad value is named in a
    warning and the default kept."""
    q, out = st.query_params, {}
    if q.get("model"):
        ref = q["model"].strip()
        in_catalog = ref in state.catalog()
        out["in_model_source"] = SOURCES[0] if in_catalog else SOURCES[2]
        out["in_model" if in_catalog else "in_model_path"] = ref
    if "phase" in q:
        if q["phase"] in PHASES:
            out["in_mode"] = q["phase"]
        else:
            st.warning(f"URL phase {q['phase']!r} is not one of {', '.join(PHASES)}; "
                       "using the default.")
    for key in ("batch", "seq", "context"):
        if key in q:
            if q[key].isdigit() and int(q[key]) >= 1:
                out[f"in_{key}"] = int(q[key])
            else:
                st.warning(f"URL {key} {q[key]!r} is not a positive whole number; using the "
                           "default.")
    # As on the command line, a decode step's seq is its KV-cache length unless context says.
    if out.get("in_mode") == "decode" and "in_seq" in out and "in_context" not in out:
        out["in_context"] = out["in_seq"]
    return out


def _defaults() -> None:
    if "in_mode" not in st.session_state:         # a new session: the URL may preset inputs
        for key, value in url_presets().items():
            state.default(key, value)
    for key, value in (("in_model_source", SOURCES[0]), ("in_model", DEFAULT_MODEL),
                       ("in_model_path", ""), ("in_mode", "prefill + decode"),
                       ("in_batch", 1), ("in_seq", DEFAULT_SEQ), ("in_context", DEFAULT_SEQ),
                       ("in_dtype", "bf16"), ("in_weights", "same"), ("in_kv", "same"),
                       ("in_sparse", False), ("in_ideal", False), ("in_pricing", "rent"),
                       ("in_recompute", "none"), ("in_passes_off", [])):
        state.default(key, value)


def _model_ref() -> str | None:
    source = st.sidebar.radio("Model from", SOURCES, key="in_model_source")
    if source == "Catalog":
        with state.user_errors():
            names = state.catalog()
        if st.session_state["in_model"] not in names:
            st.session_state["in_model"] = names[0] if names else None
        return st.sidebar.selectbox("Model", names, key="in_model")
    if source == "Hub id or path":
        ref = st.sidebar.text_input("Hub id or config.json path", key="in_model_path",
                                    help="A Hub id must already be in the local Hugging Face "
                                         "cache when offline.")
        return ref.strip() or None
    upload = st.sidebar.file_uploader("config.json", type=["json"], key="up_config")
    if upload is not None:
        with state.user_errors():
            path = state.save_uploaded_config(upload.name, upload.getvalue())
        st.session_state[_UPLOADED] = (upload.name, path)
    kept = st.session_state.get(_UPLOADED)
    if kept and upload is None:
        st.sidebar.caption(f"Using the uploaded {kept[0]}.")
    return kept[1] if kept else None


def sidebar() -> Scenario | None:
    """Draw the shared inputs; None (with a note in the page) until a model is chosen."""
    _defaults()
    st.sidebar.header("Workload")
    ref = _model_ref()
    mode = st.sidebar.selectbox("Phase", list(PHASES), key="in_mode")
    batch = int(st.sidebar.number_input("Batch", 1, 65536, key="in_batch"))
    label = "Sequence length" if mode == "train" else "Prompt tokens"
    seq = int(st.sidebar.number_input(label, 1, 1_048_576, key="in_seq"))
    context = 0
    if mode == "decode":
        context = int(st.sidebar.number_input("KV-cache length", 1, 1_048_576,
                                              key="in_context"))
    elif mode == "prefill + decode":
        st.sidebar.caption(f"Decode: one token per sequence after the {seq}-token prompt.")
    st.sidebar.header("Precision and pricing")
    dtype = st.sidebar.selectbox("Compute dtype", DTYPES, key="in_dtype")
    weights = st.sidebar.selectbox("Weights", WEIGHT_DTYPES, key="in_weights")
    kv = st.sidebar.selectbox("KV cache", KV_DTYPES, key="in_kv")
    sparse = st.sidebar.toggle("2:4 sparse weights", key="in_sparse")
    ideal = st.sidebar.toggle("Speed of light (ideal)", key="in_ideal",
                              help="Efficiencies 1, no per-kernel overhead.")
    pricing = st.sidebar.radio("Dollars from", ("rent", "tco"), key="in_pricing",
                               horizontal=True,
                               help="rent: each device's price per GPU-hour (the spec's "
                                    "on-demand list price, or the one set under Prices); tco: "
                                    "purchase price amortized plus energy.")
    source = kernels.switch()
    recompute = "none"
    if mode == "train":
        recompute = st.sidebar.selectbox("Activation recompute", ("none", "selective", "full"),
                                         key="in_recompute")
    off = _passes_off()
    if not ref:
        st.info("Choose a model in the sidebar: one from the catalog, an uploaded config.json, "
                "or a Hub id or config.json path.")
        return None
    return Scenario(ref, steps_for(mode, batch, seq, context), dtype, weights, kv, sparse,
                    ideal, pricing, recompute, off, kernels=source)


def _passes_off() -> tuple[str, ...]:
    """Lowering passes to switch off, to see what each optimization is worth."""
    from workloads.lower.fuse import PASSES

    helps = {p.name: p.description for p in PASSES}
    with st.sidebar.expander("Lowering passes"):
        off = st.multiselect("Switch off", list(helps), key="in_passes_off",
                             format_func=lambda n: n.replace("_", " "),
                             help="; ".join(f"{n}: {d}" for n, d in helps.items()))
    return tuple(sorted(off))


def trace(scenario: Scenario) -> dict[Step, object]:
    """Trace every step (cached), with a progress bar; a user error stops the page."""
    out = {}
    with state.user_errors():
        bar = st.progress(0.0)
        try:
            for i, step in enumerate(scenario.steps):
                bar.progress(i / len(scenario.steps), text=f"Tracing {step.label}...")
                with st.spinner(f"Tracing {step.label}..."):
                    out[step] = state.workload(scenario.model_ref, step.phase, step.batch,
                                               step.seq, step.context,
                                               scenario.disabled_passes)
        finally:
            bar.empty()
    return out


def price(scenario: Scenario, workloads: dict[Step, object],
          devices: list[DeviceSpec]) -> tuple[list[Priced], list[str]]:
    """Every step on every device; a device that cannot run the precision is an error line."""
    from simulator import simulate

    with state.user_errors():
        options = scenario.options()
    priced, errors = [], []
    for step, wl in workloads.items():
        for device in devices:
            try:
                priced.append(Priced(step, device, simulate(wl, device, options),
                                     kernels.step_share(wl, device, options)))
            except state.USER_ERRORS as exc:
                errors.append(f"{device.name}, {step.phase}: {state.message_of(exc)}")
    return priced, errors
