"""What the simulator predicts for each measured record, by the simulator's own pricing.

A kernel record (GEMM, attention, norm, ...) is one row of `OpArrays` priced by the pricing
core; a collective record is the collective model on the device's scale-up group of `gpus`
(plus its fixed cost; an engine's own all-reduce as the engine runs it, `all_reduce_times`); a whole MoE-layer record is the kernels of that layer
(`validation.fit.moe_layer`), priced and summed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import DTYPE_CODE, KIND_CODE, PASS_CODE, OpArrays
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
        names=tuple(frame["op"].astype(str)))


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


def collective_seconds(frame: pd.DataFrame, device: DeviceSpec,
                       profile: EfficiencyProfile) -> np.ndarray:
    """Collective records: the collective model over `gpus` devices of the device's scale-up
    domain, plus the collective's fixed cost."""
    from simulator.comm.costs import all_reduce_times, collective_overhead_s, collective_times
    from simulator.parallel.systems import system_for_gpus

    out = np.zeros(len(frame))
    ops, gpus = frame["op"].to_numpy(), column(frame, "gpus", 1.0).astype(int)
    engine = ~is_nccl(frame)
    sizes = column(frame, "message_bytes")
    for op, n, own in {(o, g, e) for o, g, e in zip(ops, gpus, engine, strict=True)}:
        rows = (ops == op) & (gpus == n) & (engine == own)
        system = system_for_gpus(device.name, int(n))
        if own and op == "all_reduce":
            out[rows] = all_reduce_times(system, sizes[rows], int(n), profile)
        else:
            out[rows] = collective_times(system, op, sizes[rows], int(n), profile=profile) \
                + collective_overhead_s(profile, op, int(n))
    return out


def is_nccl(frame: pd.DataFrame) -> np.ndarray:
    """Collective records NCCL ran (the rest ran in an engine's own kernel)."""
    return frame["impl"].astype(str).str.upper().to_numpy() == "NCCL"


def predict_s(frame: pd.DataFrame, device: DeviceSpec, profile: EfficiencyProfile,
              arrays: OpArrays | None = None) -> np.ndarray:
    """Predicted seconds per measured record, of every class."""
    kernel = frame["kernel"].to_numpy()
    single = np.isin(kernel, list(KERNEL_KINDS))
    if single.all():
        return kernel_seconds(frame, device, profile, arrays)
    out = np.zeros(len(frame))
    if single.any():
        out[single] = kernel_seconds(frame[single], device, profile)
    comm = kernel == "collective"
    if comm.any():
        out[comm] = collective_seconds(frame[comm], device, profile)
    moe = kernel == "moe"
    if moe.any():
        from validation.fit.moe_layer import moe_seconds

        out[moe] = moe_seconds(frame[moe], device, profile)
    return out
