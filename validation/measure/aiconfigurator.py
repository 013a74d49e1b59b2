"""Import NVIDIA aiconfigurator's measured kernel tables as archsim measurement records.

    import_aiconfigurator("…/aiconfigurator/h100_sxm", "data/h100", engine="trtllm")

One GPU's folder holds `gemm/`, `attention/`, `moe/` and `comm/`, each with a folder per
framework and version (`gemm/trtllm/1.3.0rc20/gemm_perf.parquet`); the newest version that
holds a table is read. Every row becomes the archsim case that prices the same kernel (its
FLOPs and bytes counted by `kernel_work`, as the tracer counts them) with the measured
latency; a row archsim cannot price is counted by reason and listed, never dropped silently.
The records (CSV + JSON, the format `archsim bench` writes) name the GPU, the engine and its
version, the source repository and commit, and the licence; the licence file is copied
beside them. Latencies in the tables are milliseconds; NCCL message sizes are elements.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from validation.measure.aiconfigurator_rows import CONVERTERS, TABLES, Converted
from validation.measure.records import COLUMNS, write_measurements

# aiconfigurator's system folder -> archsim's shipped device.
DEVICE_FOLDERS = {"a100_sxm": "a100-sxm-80gb", "h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm",
                  "b200_sxm": "b200", "gb200": "gb200"}
ENGINES = ("trtllm", "vllm", "sglang")
REPOSITORY = "github.com/ai-dynamo/aiconfigurator"
LICENSE = "Apache-2.0"
STEM = "kernels-full"


@dataclass(frozen=True)
class TableFile:
    name: str            # gemm_perf, context_attention_perf, ...
    framework: str       # the folder it came from (trtllm, nccl, ...)
    version: str
    path: Path


@dataclass
class ImportResult:
    device: str
    engine: str
    csv_path: Path
    json_path: Path
    rows: dict[str, int] = field(default_factory=dict)        # kept, per kernel class
    skipped: list[dict] = field(default_factory=list)         # {table, reason, rows}
    tables: list[TableFile] = field(default_factory=list)


def device_of(folder: Path, device: str | None) -> str:
    if device:
        from hwspecs import load_device

        return load_device(device).name      # an unknown name is refused here
    if folder.name not in DEVICE_FOLDERS:
        raise ValueError(f"{folder}: the folder name {folder.name!r} is no GPU archsim knows "
                         f"({', '.join(DEVICE_FOLDERS)}); name the device with --device")
    return DEVICE_FOLDERS[folder.name]


def _version_key(version: str) -> tuple:
    """Natural order of version folders: 1.3.0rc20 after 1.3.0rc3, 0.24.0 after 0.5.14."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[a-z]+",
                                                                             version.lower()))


def find_tables(folder: Path, engine: str) -> list[TableFile]:
    """The newest version of every table this engine's folders (and NCCL's) hold."""
    found = []
    for name, (family, framework) in TABLES.items():
        fw = engine if framework == "engine" else framework
        base = folder / family / fw
        versions = sorted((p for p in base.glob("*") if (p / f"{name}.parquet").is_file()),
                          key=lambda p: _version_key(p.name)) if base.is_dir() else []
        if versions:
            found.append(TableFile(name, fw, versions[-1].name,
                                   versions[-1] / f"{name}.parquet"))
    return found


def _read(table: TableFile) -> pd.DataFrame:
    try:
        return pd.read_parquet(table.path)
    except Exception as exc:   # pyarrow raises its own error types for a broken file
        raise ValueError(f"{table.path}: not a readable Parquet table ({exc})") from None


def _commit_of(folder: Path, commit: str | None) -> str:
    """The source commit: given, else named in a README beside the GPU folders."""
    if commit:
        return commit
    readme = folder.parent / "README.md"
    if readme.is_file():
        hit = re.search(r"commit\s+`?([0-9a-f]{7,40})\b", readme.read_text(errors="replace"))
        if hit:
            return hit.group(1)
    return "unknown"


def import_aiconfigurator(folder: str | Path, out: str | Path, engine: str = "trtllm",
                          device: str | None = None, sample: int | None = None,
                          seed: int = 0, commit: str | None = None,
                          progress: bool = False) -> ImportResult:
    folder, out = Path(folder), Path(out)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such folder (give one GPU's folder of aiconfigurator's "
                         "data, e.g. .../aiconfigurator/h100_sxm)")
    if sample is not None and sample < 1:
        raise ValueError(f"--sample must be at least 1 row per table, not {sample}")
    name = device_of(folder, device)
    tables = find_tables(folder, engine)
    if not tables:
        raise ValueError(f"{folder}: no aiconfigurator tables for engine {engine} (expected "
                         "gemm/, attention/, moe/ or comm/ folders holding *_perf.parquet)")
    parts, kept, skipped = [], Counter(), []
    rng = np.random.default_rng(seed)
    from tqdm import tqdm

    for table in tqdm(tables, desc="import", unit="table", disable=not progress):
        frame = _read(table)
        if sample is not None and len(frame) > sample:
            frame = frame.iloc[np.sort(rng.choice(len(frame), sample, replace=False))]
        converted: Converted = CONVERTERS[table.name](frame, table.path)
        for reason, count in converted.skipped.items():
            skipped.append({"table": table.name, "reason": reason, "rows": int(count)})
        if len(converted.records):
            parts.append(converted.records)
            kept.update(converted.records["kernel"].value_counts().to_dict())
    if not parts:
        raise ValueError(f"{folder}: none of the {engine} tables holds a row archsim can price")
    records = pd.concat(parts, ignore_index=True)
    for column, dtype in COLUMNS.items():   # what the tables do not publish: repeats, noise
        if column not in records.columns:
            records[column] = np.nan if dtype == "float64" else pd.NA
    records = records.astype(COLUMNS)
    meta = _meta(folder, name, engine, tables, _commit_of(folder, commit), sample, seed,
                 skipped)
    csv_path, json_path = write_measurements(records, meta, out, STEM, compress=True)
    _copy_licence(folder, out)
    return ImportResult(name, engine, csv_path, json_path, dict(kept), skipped, tables)


def _meta(folder: Path, device: str, engine: str, tables: list[TableFile], commit: str,
          sample: int | None, seed: int, skipped: list[dict]) -> dict:
    from datetime import UTC, datetime

    engine_versions = sorted({t.version for t in tables if t.framework == engine})
    nccl = sorted({t.version for t in tables if t.framework == "nccl"})
    return {
        "slug": f"{device}-{engine}", "device_ref": device, "engine": engine,
        "engine_version": ", ".join(engine_versions), "nccl_version": ", ".join(nccl) or None,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "device": {"kind": "cuda", "name": _gpu_name(tables), "folder": folder.name},
        "source": {"repository": REPOSITORY, "commit": commit, "license": LICENSE,
                   "citation": f"NVIDIA aiconfigurator silicon data, commit {commit}",
                   "tables": [f"{t.path.relative_to(folder)}" for t in tables]},
        "sample_per_table": sample, "sample_seed": seed if sample else None,
        "skipped": skipped, "complete": True,
        "timing": "aiconfigurator's mean latency per call (CUDA graphs, several runs); "
                  "percentiles and noise are not published, so p10 = p90 = the mean",
    }


def _gpu_name(tables: list[TableFile]) -> str:
    for t in tables:
        try:
            names = pd.read_parquet(t.path, columns=["device"])["device"].unique()
        except (KeyError, ValueError):
            continue
        if len(names):
            return str(names[0])
    return "unknown"


def _copy_licence(folder: Path, out: Path) -> None:
    """Apache-2.0 asks for its text beside every copy of the data."""
    for candidate in (folder / "LICENSE", folder.parent / "LICENSE"):
        if candidate.is_file():
            shutil.copyfile(candidate, out / "LICENSE")
            return
    (out / "LICENSE").write_text(f"These records derive from {REPOSITORY} (NVIDIA), licensed "
                                 "under the Apache License 2.0: "
                                 "https://www.apache.org/licenses/LICENSE-2.0\n")
