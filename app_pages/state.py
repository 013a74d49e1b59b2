"""Cached API calls and what a session keeps: traced workloads, devices, uploads.

Tracing a model is the slow step, so workloads are cached per process (`st.cache_resource`:
shared, never copied, never mutated by the pages). Pricing is fast (milliseconds) and is not
cached. Uploaded device specs live in the session only.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import streamlit as st

from hwspecs import DeviceSpec, device_names, load_device
from hwspecs.dtypes import DType
from hwspecs.errors import USER_ERRORS, SpecError, describe  # noqa: F401 (the pages' USER_ERRORS)

INPUT_PREFIX = "in_"           # widget keys kept when the user switches pages
_CUSTOM_DEVICES = "custom_devices"
_UPLOADS: list[Path] = []      # this process's private upload folder, made on first use
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def keep_inputs() -> None:
    """Keep the values of input widgets across pages.

    Streamlit drops a widget's value when a run does not draw it (another page); writing the
    value back under its key before any widget is drawn keeps it."""
    for key in [k for k in st.session_state if str(k).startswith(INPUT_PREFIX)]:
        st.session_state[key] = st.session_state[key]


def default(key: str, value) -> None:
    """Give an input widget its first value through the session, never through the widget."""
    if key not in st.session_state:
        st.session_state[key] = value


def message_of(exc: BaseException) -> str:
    """The one sentence an error carries (`hwspecs.errors.describe`)."""
    return describe(exc)[0]


@contextlib.contextmanager
def user_errors(stop: bool = True) -> Iterator[None]:
    """The app's error boundary: any error is one line in the page, never a traceback.

    Streamlit's own stop and rerun are BaseExceptions and pass through."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes one line
        st.error(message_of(exc))
        if stop:
            st.stop()


@st.cache_data(show_spinner=False)
def catalog() -> list[str]:
    from workloads import catalog_names

    return catalog_names()


@st.cache_resource(max_entries=32, show_spinner=False)
def workload(model_ref: str, phase: str, batch: int, seq: int, context: int,
             disabled_passes: tuple[str, ...] = ()):
    """The lowered workload, traced at bf16 as the CLI does; precision is a pricing option."""
    from workloads import get_workload

    return get_workload(model_ref, phase, batch=batch, seq=seq, context=context,
                        dtype=DType.BF16, disabled_passes=disabled_passes)


def save_uploaded_config(filename: str, data: bytes) -> str:
    """Write an uploaded config.json where `get_workload` can read it; returns its path.

    The folder is named after the model so reports carry a readable name, and after the
    content hash so two different uploads never share a cached trace."""
    try:
        parsed = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{filename} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{filename} nests lists and objects too deep to be a config") \
            from None
    named = parsed.get("_name_or_path") if isinstance(parsed, dict) else None
    label = str(named).rstrip("/").rsplit("/", 1)[-1] if named else Path(filename).stem
    if label == "config":
        label = "uploaded-model"
    label = _SAFE.sub("-", label).strip("-.") or "uploaded-model"
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = upload_dir() / digest / label
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "config.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return str(path)


def upload_dir() -> Path:
    """A folder only this user can read (mode 0700, a fresh name per process), removed when
    the process ends: uploads are never world-readable nor left behind in /tmp."""
    if not _UPLOADS:
        folder = Path(tempfile.mkdtemp(prefix="archsim-uploads-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _UPLOADS.append(folder)
    return _UPLOADS[0]


def custom_devices() -> dict[str, tuple[DeviceSpec, dict]]:
    """Devices uploaded in this session: name -> (spec, its YAML as read)."""
    return st.session_state.setdefault(_CUSTOM_DEVICES, {})


def device_choices() -> list[str]:
    return device_names() + sorted(custom_devices())


def get_device(name: str) -> DeviceSpec:
    custom = custom_devices().get(name)
    return custom[0] if custom else load_device(name)


def parse_device_upload(filename: str, data: bytes) -> tuple[DeviceSpec, dict]:
    """Validate an uploaded device YAML with the same loader as shipped specs.

    Raises the loader's `SpecError` naming the uploaded file (not the temporary copy)."""
    name = Path(filename).name
    if not name.endswith((".yaml", ".yml")):
        raise ValueError(f"{name}: a device spec must be a .yaml or .yml file")
    from hwspecs.build import device_from_checked
    from hwspecs.load import check_device

    with tempfile.TemporaryDirectory(prefix="archsim-spec-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            checked = check_device(path)
            device = device_from_checked(checked)
        except SpecError as exc:
            raise SpecError(name, exc.field, exc.problem) from None
    if device.name in device_names():
        raise ValueError(f"{name}: a shipped device is already named {device.name!r}; give "
                         "the uploaded one another name")
    return replace(device, path=""), checked.raw


def add_custom_device(filename: str, data: bytes) -> DeviceSpec:
    device, raw = parse_device_upload(filename, data)
    custom_devices()[device.name] = (device, raw)
    return device


def system_choices() -> list[str]:
    """Shipped systems, then shipped devices (a device alone scales out as the CLI does)."""
    from hwspecs.registry import system_names

    return system_names() + device_names()


@st.cache_resource(max_entries=16, show_spinner=False)
def train_search(model_ref: str, system_ref: str, gpus: int, seq: int, global_batch: int,
                 dtype: str, pricing: str, objective: str, train_tokens: float | None,
                 rents: tuple[tuple[str, float], ...] = (), kernels: str = "model"):
    """The plan search of `archsim train --search` for these inputs, as the CLI calls it:
    (system, result, the best plan's measured share or None with the model kernels)."""
    from archsim_cli.measured_share import share_of
    from simulator import (
        CostOptions,
        Options,
        Precision,
        kernel_fields,
        prepare,
        search_training,
        system_for_gpus,
        training_measured_share,
    )
    from workloads.config import tp_plan_of

    system = system_for_gpus(system_ref, gpus)
    tp_plan = tp_plan_of(model_ref)
    options = Options(precision=Precision.parse(dtype),
                      cost=CostOptions(pricing=pricing, usd_per_gpu_hour=rents),
                      tp_plan=tp_plan, **kernel_fields(kernels))
    prep = prepare(workload(model_ref, "train", 1, seq, 0), system, options)
    result = search_training(prep, gpus, global_batch, objective, train_tokens=train_tokens)
    share = share_of(options, lambda: training_measured_share(prep, result.ranked[0].plan)) \
        if result.ranked else None
    return system, result, share


@st.cache_resource(max_entries=16, show_spinner=False)
def capacity_plan(model_ref: str, qps: float, input_len: str, output_len: str, ttft_s: float,
                  tpot_s: float, hardware: tuple[str, ...], tps: tuple[int, ...],
                  precisions: tuple[str, ...], requests: int, pricing: str,
                  rents: tuple[tuple[str, float], ...] = (), kernels: str = "model"):
    """`archsim plan-capacity` for these inputs (default scheduler, seed 0, the CLI's
    steady-state estimate `STEADY_STATE` with `requests` per replication)."""
    from dataclasses import replace

    from simulator import (
        STEADY_STATE,
        CapacityQuery,
        CostOptions,
        Slo,
        kernel_fields,
        parse_length,
        plan_capacity,
    )

    return plan_capacity(CapacityQuery(
        model=model_ref, qps=qps, input_len=parse_length(input_len),
        output_len=parse_length(output_len), slo=Slo(ttft_s, tpot_s), hardware=hardware,
        tps=tps, precisions=precisions, steady=replace(STEADY_STATE, requests=requests),
        cost=CostOptions(pricing=pricing, usd_per_gpu_hour=rents), **kernel_fields(kernels)))


@st.cache_resource(max_entries=16, show_spinner=False)
def serving_run(model_ref: str, hardware: str, tp: int, precision: str, replicas: int,
                qps: float, duration_s: float, input_len: str, output_len: str,
                ttft_s: float | None, tpot_s: float | None, kernels: str = "model"):
    """`archsim serve` for these inputs (default scheduler and router, seed 0): (the run, its
    measured share or None with the model kernels)."""
    from archsim_cli.measured_share import share_of
    from simulator import (
        Options,
        Plan,
        Precision,
        ReplicaSpec,
        SchedulerConfig,
        Slo,
        Traffic,
        kernel_fields,
        open_loop_measured_share,
        parse_length,
        simulate_serving,
        system_for_gpus,
    )

    traffic = Traffic(rate_per_s=qps, duration_s=duration_s, input_len=parse_length(input_len),
                      output_len=parse_length(output_len))
    options = Options(precision=Precision.parse(precision), **kernel_fields(kernels))
    spec = ReplicaSpec(model_ref, system_for_gpus(hardware, tp), Plan(tp=tp), options)
    config = SchedulerConfig()
    result = simulate_serving(spec, traffic, replicas, config, slo=Slo(ttft_s, tpot_s))
    return result, share_of(options, lambda: open_loop_measured_share(result,
                                                                      config.max_seqs))


@st.cache_data(show_spinner=False)
def kernel_comparison(folder: str):
    """A shipped measurement set's device, the profile that prices it (where it comes from),
    its predicted-vs-measured table per kernel, and whether the profile was fitted on it."""
    from simulator import profile_for
    from validation.compare.kernels import fitted_on_this_data
    from validation.compare.kernels import kernel_comparison as compare
    from validation.measure.measured_sets import load_set

    measured = load_set(folder)
    meta = measured.measurements.meta
    engine = meta.get("engine") if meta.get("engine") in ("trtllm", "vllm", "sglang") else None
    profile = profile_for(measured.device, engine)
    return (measured.device.name, profile.origin,
            compare(measured.measurements.frame, measured.device, profile),
            fitted_on_this_data(profile, meta))


@st.cache_resource(max_entries=8, show_spinner=False)
def published_comparison(sources: tuple[str, ...]):
    """`compare_published` over these sources (slow: it traces every case's model)."""
    from validation.compare.published import compare_published

    return compare_published(sources)


@st.cache_data(max_entries=8, show_spinner=False)
def sweep_results(folder: str, modified_s: float):
    """An `archsim sweep` results folder as one frame (`modified_s`: reload when it changes)."""
    import pandas as pd

    return pd.read_parquet(folder)
