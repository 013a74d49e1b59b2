"""Single-kernel measurement records as the simulator's own rows, priced by the pricing core.

A kernel record (GEMM, attention, norm, ...) becomes one row of `OpArrays`: the same shapes
the simulator prices for a traced kernel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import DTYPE_CODE, KIND_CODE, PASS_CODE, OpArrays, query_group
from simulator.core.precision import Precision
from simulator.core.pricing import price
from simulator.core.profile import EfficiencyProfile
from workloads.op import OpKind, Pass

KERNEL_KINDS = {"gemm": OpKind.GEMM, "grouped_gemm": OpKind.GROUPED_GEMM,
                "attention": OpKind.ATTENTION, "norm": OpKind.NORM, "softmax": OpKind.SOFTMAX,
                "elementwise": OpKind.ELEMENTWISE, "embedding": OpKind.EMBEDDING,
                "copy": OpKind.COPY, "routing": OpKind.ROUTING}


def column(frame: pd.DataFrame, name: str, default: float = 0.0) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default)
    return frame[name].astype("Float64").fillna(default).to_numpy(dtype=float)


def records_to_arrays(frame: pd.DataFrame) -> OpArrays:
    """Measured kernels as simulator rows: the same shapes the simulator prices."""
    unknown = set(frame["kernel"]) - set(KERNEL_KINDS)
    if unknown:
        raise ValueError(f"not single-kernel records: {', '.join(sorted(unknown))}")
    kind = np.array([KIND_CODE[KERNEL_KINDS[k]] for k in frame["kernel"]])
    dtype = np.array([DTYPE_CODE[DType.parse(d)] for d in frame["dtype"]])
    m, n, k = column(frame, "m"), column(frame, "n"), column(frame, "k")
    batch = column(frame, "batch", 1.0)
    groups = column(frame, "groups", 1.0)
    is_attn = frame["kernel"].to_numpy() == "attention"
    is_grouped = frame["kernel"].to_numpy() == "grouped_gemm"
    heads = column(frame, "heads", 1.0)
    m = np.where(is_attn, column(frame, "q_len"), np.where(is_grouped, m / groups, m))
    n = np.where(is_attn, column(frame, "kv_len"), n)
    k = np.where(is_attn, column(frame, "head_dim"), k)
    batch = np.where(is_attn, batch * heads, np.where(is_grouped, groups, batch))
    group = np.where(is_attn, query_group(heads, column(frame, "kv_heads", 0.0)), 1.0)
    zeros = np.zeros(len(frame))
    is_gemm = np.isin(kind, [KIND_CODE[OpKind.GEMM], KIND_CODE[OpKind.GROUPED_GEMM]])
    weight_elements = np.where(is_gemm, n * k * np.where(is_grouped, groups, 1.0), 0.0)
    # A GEMM's B operand is its weights (read from memory); the rest is activations.
    read = frame["read_bytes"].to_numpy(dtype=float)
    element = np.array([DType.parse(d).bytes for d in frame["dtype"]])
    weights = np.minimum(np.where(is_gemm, weight_elements * element, 0.0), read)
    return OpArrays(
        kind=kind, flops=frame["flops"].to_numpy(dtype=float), weight_read_bytes=weights,
        act_read_bytes=read - weights,
        act_write_bytes=frame["write_bytes"].to_numpy(dtype=float), kv_read_bytes=zeros,
        kv_write_bytes=zeros, other_bytes=zeros, compute_dtype=dtype, m=m, n=n, k=k,
        batch=batch, weight_elements=weight_elements, layer=np.zeros(len(frame), dtype=int),
        pass_=np.full(len(frame), PASS_CODE[Pass.FORWARD]),
        names=tuple(frame["op"].astype(str)), group=group)


def kernel_seconds(frame: pd.DataFrame, device: DeviceSpec, profile: EfficiencyProfile,
                   arrays: OpArrays | None = None) -> np.ndarray:
    """Single-kernel records priced by the pricing core (each at its own dtype)."""
    arrays = arrays if arrays is not None else records_to_arrays(frame)
    out = np.zeros(len(frame))
    dtypes = frame["dtype"].to_numpy()
    for name in np.unique(dtypes):
        rows = dtypes == name
        d = DType.parse(name)
        sub = arrays.take(np.flatnonzero(rows))
        out[rows] = price(sub, device, profile, d, Precision(d, d, d)).time_s[0]
    launches = column(frame, "launches", 1.0)
    return out + (launches - 1) * profile.kernel_overhead_s
