"""Measurement files: a CSV of kernel records plus a JSON file of metadata beside it.

The JSON carries the format version, the device fingerprint, library versions, the date, the
row count and the CSV's SHA-256, so a file from another version, a truncated or an edited one
is refused with a clear `ValueError` instead of being fitted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from validation.measure.bench_shapes import KERNELS, SHAPE_FIELDS, TEXT_FIELDS

FORMAT = "archsim-kernel-measurements"
FORMAT_VERSION = 2
READS_VERSIONS = (1, 2)   # version 2 added columns; a version-1 file has them empty

# Column -> pandas dtype, in file order. Shape parameters are empty where a kernel has none.
COLUMNS: dict[str, str] = {
    "kernel": "string", "op": "string", "impl": "string", "dtype": "string",
    **{name: "string" for name in TEXT_FIELDS},
    **{name: ("boolean" if name == "causal" else "Int64") for name in SHAPE_FIELDS},
    "flops": "float64", "read_bytes": "float64", "write_bytes": "float64", "launches": "Int64",
    "count": "Int64",   # kernels of a replayed workload a row stands for; empty for grid cases
    "median_s": "float64", "p10_s": "float64", "p25_s": "float64", "p75_s": "float64",
    "p90_s": "float64", "repeats": "Int64", "inner": "Int64", "noise_riqr": "float64",
}


# The columns of a version-1 file (every later version keeps them).
_VERSION_1 = ("kernel", "op", "impl", "dtype", "m", "n", "k", "batch", "groups", "heads",
              "kv_heads", "q_len", "kv_len", "head_dim", "causal", "rows", "cols", "vocab",
              "numel", "flops", "read_bytes", "write_bytes", "launches", "count", "median_s",
              "p10_s", "p25_s", "p75_s", "p90_s", "repeats", "inner", "noise_riqr")


@dataclass(frozen=True)
class Measurements:
    frame: pd.DataFrame
    meta: dict[str, Any]
    csv_path: Path


def paths_for(folder: str | Path, stem: str, compress: bool = False) -> tuple[Path, Path]:
    folder = Path(folder)
    return folder / f"{stem}.csv{'.gz' if compress else ''}", folder / f"{stem}.json"


def write_measurements(frame: pd.DataFrame, meta: dict[str, Any], folder: str | Path,
                       stem: str, compress: bool = False) -> tuple[Path, Path]:
    """Write `frame` as `<stem>.csv` (gzipped, `.csv.gz`, where `compress`: imported tables
    are large) and `meta` (plus format, rows, checksum of the file) as `<stem>.json`."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"measurement records lack column(s) {', '.join(missing)}")
    csv_path, json_path = paths_for(folder, stem, compress)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    text = frame[list(COLUMNS)].to_csv(index=False, lineterminator="\n", float_format="%.8g")
    data = text.encode("utf-8")
    if compress:   # NB: mtime 0, so the same records give the same bytes (and checksum)
        data = gzip.compress(data, compresslevel=9, mtime=0)
    csv_path.write_bytes(data)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "csv": csv_path.name,
              "rows": len(frame), "sha256": hashlib.sha256(data).hexdigest()}
    json_path.write_text(json.dumps({**header, **meta}, indent=2, sort_keys=False) + "\n",
                         encoding="utf-8")
    return csv_path, json_path


def read_measurements(path: str | Path) -> Measurements:
    """Read a measurement file (its .csv or its .json); ValueError if it is not one we wrote."""
    path = Path(path)
    json_path = path.with_suffix(".json")
    meta = _read_meta(json_path)
    csv_path = json_path.with_name(str(meta.get("csv", "")))
    try:
        data = csv_path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{json_path}: its measurement table {csv_path.name!r} cannot be read "
                         f"({exc.strerror or exc})") from None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise ValueError(f"{csv_path}: the table does not match the checksum in {json_path.name}"
                         "; it was changed or truncated after archsim bench wrote it")
    if csv_path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{csv_path}: not a readable gzip file ({exc})") from None
    frame = _parse_csv(csv_path, data)
    if len(frame) != meta.get("rows"):
        raise ValueError(f"{csv_path}: {len(frame)} rows, but {json_path.name} says "
                         f"{meta.get('rows')}")
    _check_values(csv_path, frame)
    return Measurements(frame, meta, csv_path)


def _read_meta(json_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{json_path}: measurement metadata cannot be read "
                         f"({exc.strerror or exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{json_path}: measurement metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{json_path}: not an archsim measurement file (no "
                         f"'format: {FORMAT}')")
    version = meta.get("format_version")
    if version not in READS_VERSIONS:
        raise ValueError(f"{json_path}: measurement format version {version!r}, but this archsim "
                         f"reads versions {', '.join(map(str, READS_VERSIONS))}; re-run archsim "
                         "bench")
    return meta


def _parse_csv(csv_path: Path, data: bytes) -> pd.DataFrame:
    try:
        header = pd.read_csv(io.BytesIO(data), nrows=0).columns
        frame = pd.read_csv(io.BytesIO(data), dtype={c: t for c, t in COLUMNS.items()
                                                     if c in header})
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise ValueError(f"{csv_path}: measurement table cannot be parsed ({exc})") from None
    if list(frame.columns) != [c for c in COLUMNS if c in frame.columns] \
            or not set(_VERSION_1) <= set(frame.columns):
        raise ValueError(f"{csv_path}: columns {list(frame.columns)} are not the format's "
                         "columns")
    for column, dtype in COLUMNS.items():     # an older version's file: the new ones empty
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    return frame[list(COLUMNS)]


def _check_values(csv_path: Path, frame: pd.DataFrame) -> None:
    unknown = sorted(set(frame["kernel"].dropna()) - set(KERNELS))
    if unknown or frame["kernel"].isna().any():
        raise ValueError(f"{csv_path}: unknown kernel class(es) {unknown or ['(empty)']}")
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        times = (row.p10_s, row.median_s, row.p90_s)
        if not all(isinstance(t, float) and math.isfinite(t) and t > 0 for t in times) or \
                not row.p10_s <= row.median_s <= row.p90_s:
            raise ValueError(f"{csv_path}: line {i}: times must be positive with "
                             f"p10 <= median <= p90, not {times}")


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with the achieved `flops_per_s` and `bytes_per_s` (read + written) of each row."""
    out = frame.copy()
    out["flops_per_s"] = out["flops"] / out["median_s"]
    out["bytes_per_s"] = (out["read_bytes"] + out["write_bytes"]) / out["median_s"]
    return out
