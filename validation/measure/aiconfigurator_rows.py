"""aiconfigurator table rows as archsim cases: one converter per table, each counting the rows
it cannot price by reason.

Conventions: a GEMM row is C[m,n] = A[m,k] B[k,n]; a context-attention row is causal prefill
of `batch_size` sequences of `isl` tokens; a generation-attention row is one decode step of
`batch_size` sequences over a cache of `step` past tokens plus the new one (a sliding window
caps the keys read); a MoE row is one GPU's share of a whole layer for `num_tokens` tokens; a
collective's `message_size` counts elements of `nccl_dtype` (half: 2 bytes, int8: 1).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from validation.measure.bench_shapes import SHAPE_FIELDS, TEXT_FIELDS, Case
from validation.measure.kernel_work import work_of

# table -> (family folder, framework folder: "engine" or a fixed one)
TABLES = {"gemm_perf": ("gemm", "engine"),
          "context_attention_perf": ("attention", "engine"),
          "generation_attention_perf": ("attention", "engine"),
          "moe_perf": ("moe", "engine"),
          "nccl_perf": ("comm", "nccl"),
          "custom_allreduce_perf": ("comm", "engine")}
# aiconfigurator's names for the formats archsim prices, and those it does not yet.
DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "fp8": "fp8",
          "fp8_block": "fp8_block", "int8": "int8"}
NOT_PRICED = {"int8_wo": "weight-only int8", "int4_wo": "weight-only int4",
              "sq": "SmoothQuant W8A8", "w4a16_mxfp4": "MXFP4 weights (W4A16)",
              "nvfp4": "NVFP4", "w4afp8": "W4A8"}
COLLECTIVES = {"all_reduce": "all_reduce", "all_gather": "all_gather",
               "reduce_scatter": "reduce_scatter", "alltoall": "all_to_all"}
ELEMENT_BYTES = {"half": 2, "fp16": 2, "bfloat16": 2, "float16": 2, "int8": 1, "fp8": 1}


@dataclass(frozen=True)
class Converted:
    records: pd.DataFrame
    skipped: Counter


def _need(frame: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not an aiconfigurator table of this kind: column(s) "
                         f"{', '.join(missing)} missing")


def _dtype(name: str, skipped: Counter, what: str) -> str | None:
    if name in DTYPES:
        return DTYPES[name]
    skipped[f"{what} {name}: " + (f"{NOT_PRICED[name]} is not an archsim precision yet"
                                  if name in NOT_PRICED else "an unknown format")] += 1
    return None


_SHAPES = (*TEXT_FIELDS, *SHAPE_FIELDS)


def _records(cases: list[Case], latency_ms: list[float], impls: list[str]) -> pd.DataFrame:
    works = [work_of(c) for c in cases]
    seconds = [ms * 1e-3 for ms in latency_ms]
    columns = {"kernel": [c.kernel for c in cases], "op": [c.op for c in cases],
               "impl": impls, "dtype": [c.dtype for c in cases],
               **{f: [c.__dict__[f] for c in cases] for f in _SHAPES},
               "flops": [w.flops for w in works], "read_bytes": [w.read_bytes for w in works],
               "write_bytes": [w.write_bytes for w in works],
               "launches": [w.launches for w in works]}
    columns.update({name: seconds for name in ("median_s", "p10_s", "p25_s", "p75_s",
                                               "p90_s")})
    return pd.DataFrame(columns)


def _rows(frame: pd.DataFrame):
    """Each row as a dict of plain Python values (fast: column lists zipped once)."""
    names = list(frame.columns)
    for values in zip(*(frame[c].tolist() for c in names), strict=True):
        yield dict(zip(names, values, strict=True))


def _convert(frame: pd.DataFrame, path: Path, columns: tuple[str, ...],
             case_of: Callable[[dict, Counter], Case | None]) -> Converted:
    _need(frame, path, ("latency", *columns))
    skipped: Counter = Counter()
    cases, latency, impls = [], [], []
    for row in _rows(frame):
        ms = row["latency"]
        if not ms > 0:
            skipped["a latency that is not a positive number"] += 1
            continue
        case = case_of(row, skipped)
        if case is None:
            continue
        cases.append(case)
        latency.append(float(ms))
        impls.append(str(row.get("kernel_source") or row.get("implementation") or ""))
    return Converted(_records(cases, latency, impls), skipped)


def _gemm(frame: pd.DataFrame, path: Path) -> Converted:
    def case(r: dict, skipped: Counter) -> Case | None:
        dtype = _dtype(r["gemm_dtype"], skipped, "gemm_dtype")
        return None if dtype is None else Case("gemm", "mm", dtype, m=int(r["m"]),
                                               n=int(r["n"]), k=int(r["k"]), batch=1)
    return _convert(frame, path, ("gemm_dtype", "m", "n", "k"), case)


_ATTENTION = ("batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim",
              "attn_dtype", "kv_cache_dtype", "step")   # window_size: newer tables only


def _beam(r: dict, skipped: Counter) -> bool:
    if int(r.get("beam_width", 1) or 1) != 1:
        skipped["beam search (beam_width > 1) is not priced"] += 1
        return False
    return True


def _context(frame: pd.DataFrame, path: Path) -> Converted:
    def case(r: dict, skipped: Counter) -> Case | None:
        dtype = _dtype(r["attn_dtype"], skipped, "attn_dtype")
        kv = _dtype(r["kv_cache_dtype"], skipped, "kv_cache_dtype") if dtype else None
        if kv is None or not _beam(r, skipped):
            return None
        window = int(r.get("window_size", 0) or 0) or None
        return Case("attention", "sdpa_prefill", dtype, batch=int(r["batch_size"]),
                    heads=int(r["num_heads"]), kv_heads=int(r["num_key_value_heads"]),
                    q_len=int(r["isl"]), kv_len=int(r["isl"]), head_dim=int(r["head_dim"]),
                    causal=True, window=window, kv_dtype=kv)
    return _convert(frame, path, _ATTENTION, case)


def _generation(frame: pd.DataFrame, path: Path) -> Converted:
    def case(r: dict, skipped: Counter) -> Case | None:
        dtype = _dtype(r["attn_dtype"], skipped, "attn_dtype")
        kv = _dtype(r["kv_cache_dtype"], skipped, "kv_cache_dtype") if dtype else None
        if kv is None or not _beam(r, skipped):
            return None
        window = int(r.get("window_size", 0) or 0) or None
        keys = int(r["step"]) + 1
        return Case("attention", "sdpa_decode", dtype, batch=int(r["batch_size"]),
                    heads=int(r["num_heads"]), kv_heads=int(r["num_key_value_heads"]),
                    q_len=1, kv_len=min(keys, window) if window else keys,
                    head_dim=int(r["head_dim"]), causal=False, window=window, kv_dtype=kv)
    return _convert(frame, path, _ATTENTION, case)


_MOE = ("moe_dtype", "num_tokens", "hidden_size", "inter_size", "topk", "num_experts",
        "moe_tp_size", "moe_ep_size", "distribution")


def _moe(frame: pd.DataFrame, path: Path) -> Converted:
    def case(r: dict, skipped: Counter) -> Case | None:
        if "nongated" in str(r.get("kernel_source", "")):
            skipped["non-gated experts: archsim's MoE layer is the gated (SwiGLU) one"] += 1
            return None
        dtype = _dtype(r["moe_dtype"], skipped, "moe_dtype")
        if dtype is None:
            return None
        if int(r["num_experts"]) % int(r["moe_ep_size"]):
            skipped["moe_ep_size does not divide num_experts"] += 1
            return None
        return Case("moe", "moe_layer", dtype, tokens=int(r["num_tokens"]),
                    hidden=int(r["hidden_size"]), inter=int(r["inter_size"]),
                    topk=int(r["topk"]), experts=int(r["num_experts"]),
                    moe_tp=int(r["moe_tp_size"]), moe_ep=int(r["moe_ep_size"]),
                    distribution=str(r["distribution"]))
    return _convert(frame, path, _MOE, case)


def _collective(op_column: str | None, dtype_column: str):
    def convert(frame: pd.DataFrame, path: Path) -> Converted:
        def case(r: dict, skipped: Counter) -> Case | None:
            if str(r.get("backend") or "").endswith("_eager"):
                skipped["eager-mode all-reduce (engines serve from CUDA graphs; the graph "
                        "rows are kept)"] += 1
                return None
            op = COLLECTIVES.get(str(r[op_column])) if op_column else "all_reduce"
            if op is None:
                skipped[f"collective {r[op_column]}: not one archsim prices"] += 1
                return None
            size = ELEMENT_BYTES.get(str(r[dtype_column]))
            if size is None:
                skipped[f"{dtype_column} {r[dtype_column]}: unknown element size"] += 1
                return None
            dtype = DTYPES.get(str(r[dtype_column]), "fp16")
            return Case("collective", op, dtype, gpus=int(r["num_gpus"]),
                        message_bytes=int(r["message_size"]) * size)
        columns = ("num_gpus", "message_size", dtype_column) + ((op_column,) if op_column else ())
        return _convert(frame, path, columns, case)
    return convert


CONVERTERS = {"gemm_perf": _gemm, "context_attention_perf": _context,
              "generation_attention_perf": _generation, "moe_perf": _moe,
              "nccl_perf": _collective("op_name", "nccl_dtype"),
              "custom_allreduce_perf": _collective(None, "allreduce_dtype")}
assert set(CONVERTERS) == set(TABLES)
