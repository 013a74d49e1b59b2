"""URL presets: every page's main inputs can be set from the address, e.g.
`/training?model=llama-3.1-70b&system=dgx-h100&gpus=64`.

Read once per page when a session first opens it, before the page draws its widgets; a value
already chosen in the session wins. A bad value is named in a warning and the default kept.
The model and the step's shapes (`model`, `phase`, `batch`, `seq`, `context`) and Compare's
`devices` are the shared sidebar's (`scenario.url_presets`, `compare._devices`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

_DONE = "_url_presets_done"


@dataclass(frozen=True)
class Preset:
    param: str                          # the query parameter
    key: str                            # the widget's session key
    parse: Callable[[str], Any]         # raises ValueError saying what is wrong
    help: str = ""                      # what the README says it sets


def whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise ValueError(f"is not a whole number from {low:,} to {high:,}")
        return int(text)
    return parse


def number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("is not a number") from None
        if not low <= value <= high:
            raise ValueError(f"is not between {low:g} and {high:g}")
        return value
    return parse


def choice(options: Callable[[], Sequence[Any]] | Sequence[Any],
           kind: Callable[[str], Any] = str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        known = list(options() if callable(options) else options)
        try:
            value = kind(text.strip())
        except ValueError:
            value = None
        if value not in known:
            raise ValueError(f"is not one of {', '.join(map(str, known))}")
        return value
    return parse


def several(options: Callable[[], Sequence[Any]] | Sequence[Any],
            kind: Callable[[str], Any] = str) -> Callable[[str], list]:
    one = choice(options, kind)

    def parse(text: str) -> list:
        items = [x for x in text.split(",") if x.strip()]
        if not items:
            raise ValueError("lists no value")
        return [one(x) for x in items]
    return parse


def flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError("is not true or false")
    return value in ("1", "true", "yes", "on")


def text(text: str) -> str:
    return text


def _devices() -> list[str]:
    from app_pages import state

    return state.device_choices()


def _systems() -> list[str]:
    from app_pages import state

    return state.system_choices()


def _precision_presets() -> list[Preset]:
    from app_pages import scenario

    return [Preset("dtype", "in_dtype", choice(scenario.DTYPES), "compute dtype"),
            Preset("weights", "in_weights", choice(scenario.WEIGHT_DTYPES), "weights dtype"),
            Preset("kv", "in_kv", choice(scenario.KV_DTYPES), "KV-cache dtype"),
            Preset("sparse", "in_sparse", flag, "2:4 sparse weights"),
            Preset("ideal", "in_ideal", flag, "speed of light"),
            Preset("pricing", "in_pricing", choice(("rent", "tco")), "rent or tco")]


def _whatif_presets() -> list[Preset]:
    from app_pages import sensitivity

    return [Preset("device", "in_wi_device", choice(_devices), "the device"),
            Preset("metric", "in_wi_metric", choice(list(sensitivity.METRICS)), "tornado metric")
            ] + [Preset(field, f"in_wi_{field}", choice(sensitivity.STEPS, float),
                        f"{label} multiplier")
                 for field, label in sensitivity.FIELDS.items()]


def _training_presets() -> list[Preset]:
    from app_pages import training

    return [Preset("system", "in_tr_system", choice(_systems), "system or device"),
            Preset("gpus", "in_tr_gpus", whole(1, 65536), "GPUs"),
            Preset("seq", "in_tr_seq", whole(1, 1_048_576), "sequence length"),
            Preset("batch", "in_tr_batch", whole(1, 1_048_576), "global batch"),
            Preset("dtype", "in_tr_dtype", choice(training.DTYPES), "compute dtype"),
            Preset("objective", "in_tr_objective", choice(("throughput", "cost")), "rank by"),
            Preset("pricing", "in_tr_pricing", choice(("rent", "tco")), "rent or tco"),
            Preset("tokens", "in_tr_tokens_b", number(0.0, 1e6), "billion tokens to train"),
            Preset("top", "in_tr_top", whole(1, 1000), "plans shown")]


def _serving_presets() -> list[Preset]:
    from app_pages import serving

    return [Preset("hw", "in_sv_hw", several(_systems), "hardware (comma-separated)"),
            Preset("tps", "in_sv_tps", several(serving.TPS, int), "TP degrees"),
            Preset("dtypes", "in_sv_dtypes", several(serving.PRECISIONS), "precisions"),
            Preset("qps", "in_sv_qps", number(0.0, 1e7), "requests/s"),
            Preset("input", "in_sv_input", text, "input length (e.g. 2048, lognormal:1024:0.6)"),
            Preset("output", "in_sv_output", text, "output length"),
            Preset("ttft_ms", "in_sv_ttft_ms", number(0.0, 1e7), "p99 TTFT target"),
            Preset("tpot_ms", "in_sv_tpot_ms", number(0.0, 1e7), "p99 TPOT target"),
            Preset("requests", "in_sv_requests", whole(1, 10 ** 7), "requests simulated"),
            Preset("pricing", "in_sv_pricing", choice(("rent", "tco")), "rent or tco")]


def _explore_presets() -> list[Preset]:
    return [Preset("folder", "in_ex_folder", text, "results folder"),
            Preset("x", "in_ex_x", text, "x metric"), Preset("y", "in_ex_y", text, "y metric"),
            Preset("log", "in_ex_log", flag, "log axes")]


def _validation_presets() -> list[Preset]:
    from validation.compare.published_cases import SOURCES

    return [Preset("set", "in_va_set", text, "measurement set"),
            Preset("sources", "in_va_sources", several(SOURCES), "published sources")]


def _hardware_presets() -> list[Preset]:
    return [Preset("device", "in_hw_device", choice(_devices), "the device shown")]


PAGES: dict[str, Callable[[], list[Preset]]] = {
    "": _precision_presets,
    "what-if": lambda: _precision_presets() + _whatif_presets(),
    "training": _training_presets,
    "serving": _serving_presets,
    "validation": _validation_presets,
    "explore": _explore_presets,
    "hardware": _hardware_presets,
}


def apply(url_path: str) -> None:
    """Preset the inputs of page `url_path` from the query, once per session and page."""
    done = st.session_state.setdefault(_DONE, set())
    if url_path in done or url_path not in PAGES:
        return
    done.add(url_path)
    query = st.query_params
    for preset in PAGES[url_path]():
        if preset.param not in query or preset.key in st.session_state:
            continue
        raw = query[preset.param]
        try:
            st.session_state[preset.key] = preset.parse(raw)
        except ValueError as exc:
            st.warning(f"URL {preset.param} {raw!r} {exc}; using the default.")
