"""`archsim bench`: time the kernels the simulator prices, on this machine, with torch.

`bench_to_folder` runs a grid (`bench_shapes`), times each case (`bench_session`, `timing`) on
random inputs rotated over enough buffer sets to leave the caches (`bench_kernels`), counts its
FLOPs and bytes like the simulator (`kernel_work`), and writes the records with the device
fingerprint under `validation/data/<device>/` (`records`); `--emit-spec` turns them into a
device YAML (`emit_spec`). `replay_to_folder` times the kernels of a traced model the same
way (`replay`) and the whole model step un-instrumented (`model_runs`).
Torch is imported inside the functions that measure, so importing this module stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from validation.measure.bench_shapes import grid_for
from validation.measure.emit_spec import tdp_of, write_spec
from validation.measure.fingerprint import cpu_fingerprint, cuda_fingerprint, slugify, usable_cpus
from validation.measure.records import read_measurements, with_rates, write_measurements

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class BenchOutcome:
    csv_path: Path
    json_path: Path
    spec_path: Path | None
    meta: dict[str, Any]
    summary: list[dict[str, Any]]


def resolve_device(device: str | None) -> str:
    """'cpu' or 'cuda'; None picks CUDA when torch sees one."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device cuda: torch {torch.__version__} sees no CUDA device here")
    return device


def device_fingerprint(device: str) -> dict[str, Any]:
    return cpu_fingerprint(usable_cpus()) if device == "cpu" else cuda_fingerprint()


def run_bench(device: str, quick: bool, budget_s: float | None = None, progress: bool = True,
              fingerprint: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Time the grid on `device`; returns the records and their metadata (not yet written)."""
    from validation.measure.bench_session import Session

    with Session(device, fingerprint or device_fingerprint(device), quick) as session:
        frame = pd.DataFrame(session.measure(grid_for(device, quick), budget_s, progress))
        return frame, session.meta(frame)


def bench_to_folder(device: str | None = None, quick: bool = False,
                    out: str | Path | None = None, emit_spec: bool = False,
                    tdp_w: float | None = None, tdp_source: str | None = None,
                    budget_s: float | None = None, progress: bool = True) -> BenchOutcome:
    """Measure, write `<out>/<device>/kernels-<grid>.csv/.json`, and the spec if asked."""
    dev = resolve_device(device)
    fp = device_fingerprint(dev)
    tdp = None
    if emit_spec:   # a bad --tdp-w/--tdp-source fails before measuring, not after
        tdp = tdp_of(fp, tdp_w, tdp_source, datetime.now(UTC).strftime("%Y-%m-%d"))
    frame, meta = run_bench(dev, quick, budget_s, progress, fingerprint=fp)
    if frame.empty:
        raise ValueError("archsim bench measured no kernel (the time budget ran out first)")
    csv_path, json_path = write_measurements(frame, meta, _folder(out) / meta["slug"],
                                             f"kernels-{meta['grid']}")
    spec_path = None
    if emit_spec:
        spec_path = write_spec(read_measurements(csv_path), csv_path.parent, tdp)
    return BenchOutcome(csv_path, json_path, spec_path, meta, summarize(frame))


def _folder(out: str | Path | None) -> Path:
    return Path(out) if out is not None else DATA_DIR


def emit_spec_from(path: str | Path, out: str | Path | None = None, tdp_w: float | None = None,
                   tdp_source: str | None = None) -> Path:
    """Write the device YAML from an existing measurement file (beside it, or into `out`)."""
    m = read_measurements(path)
    tdp = tdp_of(m.meta["device"], tdp_w, tdp_source, m.meta["date"])
    return write_spec(m, Path(out) if out is not None else m.csv_path.parent, tdp)


def summarize(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per kernel class: cases, best FLOP/s and bytes/s reached, median noise, fastest call."""
    rated = with_rates(frame)
    out = []
    for kernel, group in rated.groupby("kernel", sort=False):
        out.append({"kernel": kernel, "cases": len(group),
                    "best_flops_per_s": float(group["flops_per_s"].max()),
                    "best_bytes_per_s": float(group["bytes_per_s"].max()),
                    "median_noise_riqr": float(group["noise_riqr"].median()),
                    "fastest_s": float(group["median_s"].min())})
    return out


def replay_dtype(model: str, device: str) -> str:
    """bf16 on CUDA and for MoE models (grouped GEMMs trace in bf16 only), fp32 on a CPU."""
    from workloads import model_facts

    return "bf16" if device == "cuda" or model_facts(model).experts else "fp32"


DEFAULT_REPLAY_SEQ = 128


def replay_to_folder(model: str, phase: str, batch: int, seq: int | None, context: int = 0,
                     device: str | None = None, dtype: str | None = None, quick: bool = False,
                     out: str | Path | None = None, progress: bool = True) -> BenchOutcome:
    """Time every distinct kernel of one traced step of `model`, and the step itself; write
    `<out>/<device>/replay-<model>-<phase>-b<B>-s<S>[-c<L>].csv/.json`. `seq` None: one
    token for decode, DEFAULT_REPLAY_SEQ otherwise."""
    from hwspecs.dtypes import DType
    from validation.measure.bench_session import Session
    from validation.measure.model_runs import build_model, step_fn
    from validation.measure.replay import plan_replay
    from workloads import get_workload
    from workloads.trace.front import parse_phase

    dev, ph = resolve_device(device), parse_phase(phase)
    if seq is None:
        seq = 1 if ph.value == "decode" else DEFAULT_REPLAY_SEQ
    dt = dtype or replay_dtype(model, dev)
    workload = get_workload(model, ph, batch, seq, context, DType.parse(dt))
    plan = plan_replay(workload)
    with Session(dev, device_fingerprint(dev), quick) as session:
        rows = session.measure(list(plan.counts), progress=progress, counts=plan.counts)
        net, causal = build_model(model, dt, dev)
        step = session.time_fn(step_fn(net, causal, ph, batch, seq, context, dev))
        del net
        frame = pd.DataFrame(rows)
        meta = session.meta(frame)
    meta["replay"] = _replay_meta(workload, plan, frame, step, model, dt)
    stem = f"replay-{slugify(workload.model.name)}-{ph.value}-b{batch}-s{seq}" + (
        f"-c{context}" if context else "")
    csv_path, json_path = write_measurements(frame, meta, _folder(out) / meta["slug"], stem)
    return BenchOutcome(csv_path, json_path, None, meta, summarize(frame))


def _model_ref(model: str) -> str:
    """A catalog name as given; a config path relative to the repository when inside it."""
    path = Path(model)
    if not path.is_file():
        return model
    try:
        return str(path.resolve().relative_to(DATA_DIR.parent.parent))
    except ValueError:
        return path.name


def _replay_meta(workload, plan, frame: pd.DataFrame, step, model: str,
                 dtype: str) -> dict[str, Any]:
    replayed_s = float((frame["median_s"] * frame["count"]).sum()) if len(frame) else 0.0
    return {"model": _model_ref(model), "model_name": workload.model.name, "phase": workload.phase.value,
            "batch": workload.batch, "seq": workload.seq, "context": workload.context,
            "dtype": dtype, "passes": list(workload.passes), "kernels": len(workload.ops),
            "replayed_kernels": int(sum(plan.counts.values())),
            "unreplayed": plan.unreplayed, "replayed_sum_s": replayed_s,
            "step": {"median_s": step.median_s, "p10_s": step.p10_s, "p25_s": step.p25_s,
                     "p75_s": step.p75_s, "p90_s": step.p90_s, "repeats": step.repeats,
                     "noise_riqr": step.noise}}
