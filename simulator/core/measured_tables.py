"""Imported GPU measurements as interpolation grids, and the lookup of a workload's kernels.

The records `archsim import aiconfigurator` writes under `validation/data/<device>-<engine>/`
(`kernels-full.json` + its CSV) become one `LogGrid` per table and key, once per file state
(path, size, modification time), kept in memory:

- GEMM, per compute dtype: (m, n, k);
- prefill attention, per (dtype, KV dtype): (batch x heads, length, head size);
- decode attention, per KV dtype (engines keep the query 16-bit): (batch x heads,
  batch x KV heads, keys, head size);
- collectives, per (collective, NCCL or the engine's own kernel, GPUs): (message bytes,).

`MeasuredKernels.lookup` prices the rows of an `OpArrays` it covers and says, for every other
row, why the fitted model prices it (`Fallback`). Whole MoE-layer records are not looked up:
a traced MoE layer is its router, routing and grouped GEMMs, priced by the model.
NB: the CSV is read with pandas (the simulator does not import the validation package that
wrote it); only the columns named here are read.
"""

from __future__ import annotations

import enum
import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hwspecs.dtypes import DType
from simulator.core.arrays import CLASSES, DTYPES, KIND_CODE, PASS_CODE, OpArrays
from simulator.core.measured_grid import LogGrid
from simulator.core.precision import Precision
from workloads.op import OpKind, Pass

DATA_DIR = Path(__file__).resolve().parents[2] / "validation" / "data"
RECORDS = "kernels-full.json"
_GEMM, _PREFILL, _DECODE = (CLASSES.index(c) for c in
                            ("gemm", "attention_prefill", "attention_decode"))
_GROUPED = KIND_CODE[OpKind.GROUPED_GEMM]
_BACKWARD = PASS_CODE[Pass.BACKWARD]
# Attention is interpolated over its 6 nearest measured shapes (leave-one-out on the H100
# tables: 6 beats 4, 8 and 10), GEMMs and collectives over 2 (d + 1).
# NB: prefill leaves the KV heads out of its coordinates: on the H100 tables adding them
# raised the leave-one-out error (7.3% against 6.0% median), the FMHA kernel being bound by
# the query heads' work.
ATTENTION_NEIGHBOURS = 6


class Fallback(enum.Enum):
    """Why a kernel is priced by the fitted model rather than from the measurements."""

    MEASURED = "priced from the measurements"
    NO_SET = "no measurements of this device under this engine"
    NO_TABLE = "no measured table for this kernel class"
    DTYPE = "not measured at this dtype"
    RANGE = "outside the measured shapes (beyond the margin)"
    BATCHED = "a batched GEMM: the tables measure single GEMMs"
    GROUPED = "grouped GEMM: MoE experts are measured only as whole MoE layers"
    CONTEXT = "prefill over a cached context: the tables measure q_len = kv_len"
    BACKWARD = "a backward kernel: the tables measure inference (forward) kernels"
    GPUS = "a collective over a GPU count nobody measured"


FALLBACKS = tuple(Fallback)
_CODE = {f: i for i, f in enumerate(FALLBACKS)}


class MeasuredKernels:
    """The measured grids of one device under one engine (none: every kernel falls back)."""

    def __init__(self, device: str, engine: str, source: str = "",
                 grids: dict[tuple, LogGrid] | None = None, checksum: str = ""):
        self.device, self.engine, self.source = device, engine, source
        self.grids = grids or {}
        self.checksum = checksum
        self._collective_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def __repr__(self) -> str:
        return f"MeasuredKernels({self.device}, {self.engine}, {len(self.grids)} grids)"

    @property
    def empty(self) -> bool:
        return not self.grids

    def lookup(self, a: OpArrays, traced: DType, precision: Precision) -> KernelLookup:
        """Measured seconds of every row of `a` the grids cover (NaN elsewhere), and why each
        other row falls back."""
        n = len(a)
        seconds = np.full(n, np.nan)
        reason = np.full(n, _CODE[Fallback.NO_TABLE] if self.grids else _CODE[Fallback.NO_SET],
                         dtype=np.int8)
        if not self.grids or n == 0:
            return KernelLookup(seconds, reason)
        cls = a.class_code
        act = precision.activations
        compute = np.array([(act if DTYPES[c] is traced else DTYPES[c]).value
                            for c in a.compute_dtype], dtype=object)
        gemm = cls == _GEMM
        if gemm.any():
            self._gemm(a, gemm, compute, precision, seconds, reason)
        backward = a.pass_ == _BACKWARD
        reason[backward & ((cls == _PREFILL) | (cls == _DECODE))] = _CODE[Fallback.BACKWARD]
        for code, decode in ((_PREFILL, False), (_DECODE, True)):
            rows = (cls == code) & ~backward
            if rows.any():
                self._attention(a, rows, compute, traced, precision, decode, seconds, reason)
        return KernelLookup(seconds, reason)

    def _gemm(self, a, rows, compute, precision, seconds, reason) -> None:
        # NB: a backward GEMM (input or weight gradient) is a GEMM of its own m, n, k.
        grouped = rows & (a.kind == _GROUPED)
        batched = rows & ~grouped & (a.batch > 1)
        reason[grouped] = _CODE[Fallback.GROUPED]
        reason[batched] = _CODE[Fallback.BATCHED]
        single = rows & ~grouped & ~batched
        weight_only = precision.weights is not precision.activations
        for dtype in np.unique(compute[single]):
            sub = single & (compute == dtype)
            grid = None if weight_only else self.grids.get(("gemm", dtype))
            if grid is None:
                reason[sub] = _CODE[Fallback.DTYPE]
                continue
            shapes = np.column_stack([a.m[sub], a.n[sub], a.k[sub]])
            _fill(grid, shapes, sub, seconds, reason)

    def _attention(self, a, rows, compute, traced, precision, decode, seconds, reason) -> None:
        kv = precision.kv_cache.value
        bh = np.maximum(a.batch, 1)
        # K and V of every KV head: 2 x batch x KV heads x keys x head size elements read.
        bkv = np.clip(a.kv_read_bytes / (2.0 * np.maximum(a.n, 1) * np.maximum(a.k, 1)
                                         * traced.bytes), 1.0, bh)
        if not decode:
            context = rows & (np.abs(np.log2(np.maximum(a.n, 1) / np.maximum(a.m, 1)))
                              > 0.5)
            reason[context] = _CODE[Fallback.CONTEXT]
            rows = rows & ~context
        for dtype in np.unique(compute[rows]):
            sub = rows & (compute == dtype)
            key = ("attention_decode", kv) if decode else ("attention_prefill", dtype, kv)
            grid = self.grids.get(key)
            if grid is None:
                reason[sub] = _CODE[Fallback.DTYPE]
                continue
            shapes = np.column_stack([bh[sub], bkv[sub], a.n[sub], a.k[sub]]) if decode \
                else np.column_stack([bh[sub], a.m[sub], a.k[sub]])
            _fill(grid, shapes, sub, seconds, reason)

    def collective_s(self, kind: str, sizes_bytes: np.ndarray, gpus: int
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Measured seconds of each message (NaN where not covered) and the reason codes: the
        faster of NCCL's and the engine's own kernel where both were measured (engines pick
        by message size)."""
        sizes = np.asarray(sizes_bytes, dtype=float).reshape(-1)
        key = (kind, gpus, sizes.tobytes())
        hit = self._collective_cache.get(key)
        if hit is None:
            if len(self._collective_cache) > 4096:
                self._collective_cache.clear()
            hit = self._collective_cache[key] = self._collective(kind, sizes, gpus)
        return hit[0].copy(), hit[1].copy()

    def _collective(self, kind: str, sizes: np.ndarray, gpus: int
                    ) -> tuple[np.ndarray, np.ndarray]:
        best = np.full(len(sizes), np.nan)
        reason = np.full(len(sizes), _CODE[Fallback.NO_SET if not self.grids
                                           else Fallback.NO_TABLE], dtype=np.int8)
        grids = [g for (c, op, _, n), g in self._collectives() if op == kind and n == gpus]
        if not grids and any(op == kind for (_, op, _, _), _ in self._collectives()):
            reason[:] = _CODE[Fallback.GPUS]
        positive = sizes > 0
        for grid in grids:
            found = grid.lookup(np.maximum(sizes, 1.0)[:, None])
            ok = found.covered & positive
            best = np.where(ok, np.fmin(best, found.seconds), best)
            reason[~ok & np.isnan(best)] = _CODE[Fallback.RANGE]
        reason[~np.isnan(best)] = _CODE[Fallback.MEASURED]
        best[~positive] = 0.0
        reason[~positive] = _CODE[Fallback.MEASURED]
        return best, reason

    def _collectives(self):
        return [(k, g) for k, g in self.grids.items() if k[0] == "collective"]

    def leave_one_out(self) -> pd.DataFrame:
        """Each grid's measured points priced from the others: one row per point with its
        class, key, measured and interpolated seconds, and whether the rest covered it."""
        parts = []
        for key, grid in self.grids.items():
            found = grid.lookup(np.exp2(grid.points), leave_out=True)
            parts.append(pd.DataFrame({
                "kernel_class": key[0], "key": "/".join(str(k) for k in key[1:]),
                "measured_s": np.exp2(grid.values), "interpolated_s": found.seconds,
                "covered": found.covered}))
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


class KernelLookup:
    """Per row: measured seconds (NaN where the model prices it) and a `FALLBACKS` code."""

    def __init__(self, seconds: np.ndarray, reason: np.ndarray):
        self.seconds, self.reason = seconds, reason

    @property
    def measured(self) -> np.ndarray:
        return ~np.isnan(self.seconds)

    def reasons(self) -> np.ndarray:
        return np.array([FALLBACKS[r].value for r in self.reason], dtype=object)


def _fill(grid: LogGrid, shapes: np.ndarray, rows: np.ndarray, seconds: np.ndarray,
          reason: np.ndarray) -> None:
    found = grid.lookup(np.maximum(shapes, 1.0))
    idx = np.flatnonzero(rows)
    ok = found.covered
    seconds[idx[ok]] = found.seconds[ok]
    reason[idx[ok]] = _CODE[Fallback.MEASURED]
    reason[idx[~ok]] = _CODE[Fallback.RANGE]


def records_folder(device: str, engine: str, directory: str | Path | None = None
                   ) -> Path | None:
    """Where the records of `device` under `engine` are: `directory` (checked: it must hold
    records of that device and engine), else the committed set, if any."""
    if directory is None:
        folder = DATA_DIR / f"{device}-{engine}"
        return folder if (folder / RECORDS).is_file() else None
    meta_path = records_file(directory)
    meta = _meta(meta_path)
    if meta.get("device_ref") != device:
        raise ValueError(f"--kernels measured:{directory}: the records are of "
                         f"{meta.get('device_ref') or 'an unnamed device'}, not {device}")
    if meta.get("engine") != engine:
        raise ValueError(f"--kernels measured:{directory}: the records were measured under "
                         f"{meta.get('engine') or 'no named engine'}, not {engine}")
    return meta_path.parent


def records_file(directory: str | Path) -> Path:
    """The imported records' metadata file in `directory` (refused where there is none)."""
    folder = Path(directory)
    meta_path = folder / RECORDS if folder.is_dir() else folder
    if not meta_path.is_file():
        raise ValueError(f"--kernels measured:{directory}: no imported records "
                         f"({RECORDS}) there")
    return meta_path


def _meta(path: Path) -> dict:
    return _read_meta(str(path), os.stat(path).st_mtime_ns)


@lru_cache(maxsize=64)
def _read_meta(path: str, mtime_ns: int) -> dict:
    return json.loads(Path(path).read_text())


def measured_kernels(device: str, engine: str, directory: str | Path | None = None
                     ) -> MeasuredKernels:
    """The grids of `device` under `engine` (empty where nothing was measured), built once per
    state of the records file."""
    folder = records_folder(device, engine, directory)
    if folder is None:
        return _nothing(device, engine)
    csv = folder / _meta(folder / RECORDS).get("csv", "kernels-full.csv")
    st = os.stat(csv)
    return _built(str(csv), st.st_size, st.st_mtime_ns, device, engine)


@lru_cache(maxsize=64)
def _nothing(device: str, engine: str) -> MeasuredKernels:
    return MeasuredKernels(device, engine)


@lru_cache(maxsize=16)
def _built(csv: str, size: int, mtime_ns: int, device: str, engine: str) -> MeasuredKernels:
    frame = pd.read_csv(csv, usecols=lambda c: c in _COLUMNS, low_memory=False,
                        dtype={c: "string" for c in ("kernel", "op", "impl", "dtype",
                                                     "kv_dtype")})
    grids = build_grids(frame)
    return MeasuredKernels(device, engine, source=csv, grids=grids,
                           checksum=f"{size}:{mtime_ns}")


_COLUMNS = {"kernel", "op", "impl", "dtype", "kv_dtype", "m", "n", "k", "batch", "heads",
            "kv_heads", "q_len", "kv_len", "head_dim", "gpus", "message_bytes", "median_s"}


def build_grids(frame: pd.DataFrame) -> dict[tuple, LogGrid]:
    """One grid per table and key from measured records (the columns `_COLUMNS` names)."""
    grids: dict[tuple, LogGrid] = {}
    f = frame[frame["median_s"] > 0]
    gemm = f[(f["kernel"] == "gemm") & (f["batch"].fillna(1) == 1)]
    for dtype, g in gemm.groupby("dtype"):
        grids[("gemm", str(dtype))] = LogGrid(g[["m", "n", "k"]].to_numpy(), g["median_s"])
    attn = f[f["kernel"] == "attention"].copy()
    attn["bh"] = attn["batch"] * attn["heads"]
    attn["bkv"] = attn["batch"] * attn["kv_heads"]
    decode = attn[attn["op"] == "sdpa_decode"]
    for kv, g in decode.groupby("kv_dtype"):
        grids[("attention_decode", str(kv))] = LogGrid(
            g[["bh", "bkv", "kv_len", "head_dim"]].to_numpy(), g["median_s"],
            ATTENTION_NEIGHBOURS)
    prefill = attn[attn["op"] == "sdpa_prefill"]
    for (dtype, kv), g in prefill.groupby(["dtype", "kv_dtype"]):
        grids[("attention_prefill", str(dtype), str(kv))] = LogGrid(
            g[["bh", "q_len", "head_dim"]].to_numpy(), g["median_s"], ATTENTION_NEIGHBOURS)
    comm = f[f["kernel"] == "collective"]
    for (op, impl, gpus), g in comm.groupby(["op", "impl", "gpus"]):
        own = "nccl" if str(impl).upper() == "NCCL" else "engine"
        grids[("collective", str(op), own, int(gpus))] = LogGrid(
            g[["message_bytes"]].to_numpy(), g["median_s"])
    return grids
