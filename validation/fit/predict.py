"""What the simulator predicts for each measured record, by the simulator's own pricing.

A kernel record (GEMM, attention, norm, ...) is one row of `OpArrays` priced by the pricing
core (`validation.fit.kernel_records`); a collective record is the collective model on the
device's scale-up group of `gpus` plus its fixed cost (an engine's own all-reduce as the
engine runs it, `all_reduce_times`); a whole MoE-layer record is the kernels of that layer
(`validation.fit.moe_layer`), priced and summed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwspecs.schema import DeviceSpec
from simulator.core.arrays import OpArrays
from simulator.core.profile import EfficiencyProfile
from validation.fit.kernel_records import KERNEL_KINDS, column, kernel_seconds
from validation.fit.moe_layer import moe_seconds


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
        out[moe] = moe_seconds(frame[moe], device, profile)
    return out
