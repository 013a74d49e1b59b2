"""Price each kernel on one device: compute, memory and overhead seconds, and the bound.

time = max(compute_s, memory_s) + overhead_s, where compute_s and memory_s already divide by
the shape-dependent efficiency (not a bare max of peak rates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import DTYPES, KIND_CODE, OpArrays
from simulator.core.efficiency import (
    EfficiencyProfile,
    attention_efficiency,
    gemm_efficiency,
    memory_efficiency,
)
from simulator.core.precision import Precision
from workloads.op import OpKind

BOUNDS = ("compute", "memory", "overhead")
ATTN_CODE = KIND_CODE[OpKind.ATTENTION]
VIEW_CODE = KIND_CODE[OpKind.VIEW]


@dataclass(frozen=True)
class OpTimes:
    compute_s: np.ndarray
    memory_s: np.ndarray
    overhead_s: np.ndarray
    time_s: np.ndarray
    bound: np.ndarray        # index into BOUNDS
    flops: np.ndarray        # work actually executed (dequantization included)
    bytes: np.ndarray        # bytes moved after precision what-ifs

    @property
    def total_s(self) -> float:
        return float(self.time_s.sum())


def scaled_bytes(a: OpArrays, traced: DType, precision: Precision) -> np.ndarray:
    """Bytes moved per op once weights, activations and KV take their what-if formats."""
    t = traced.bits
    weights = a.weight_read_bytes * (precision.weight_bytes_per_element() * 8 / t)
    acts = (a.act_read_bytes + a.act_write_bytes) * (precision.activations.bits / t)
    kv = (a.kv_read_bytes + a.kv_write_bytes) * (precision.kv_cache.bits / t)
    return weights + acts + kv + a.other_bytes


def peaks(a: OpArrays, device: DeviceSpec, traced: DType, precision: Precision,
           profile: EfficiencyProfile) -> tuple[np.ndarray, np.ndarray]:
    """Matrix and vector peak FLOP/s per op (already times their fractions for vector ops)."""
    matrix = np.zeros(len(a))
    vector = np.zeros(len(a))
    has_weights = a.weight_elements > 0
    for code in np.unique(a.compute_dtype):
        rows = a.compute_dtype == code
        dtype = precision.activations if DTYPES[code] is traced else DTYPES[code]
        on_matrix = rows & a.on_matrix
        if on_matrix.any():
            dense = _matrix_peak(device, dtype)
            matrix[on_matrix] = dense
            if precision.sparse:
                matrix[on_matrix & has_weights] = device.matrix_peak(dtype, sparse=True)
        vector[rows] = device.vector_peak(dtype)
    return matrix, vector


def _matrix_peak(device: DeviceSpec, dtype: DType) -> float:
    if dtype in device.matrix_peak_flops_per_s:
        return device.matrix_peak_flops_per_s[dtype]
    if dtype is DType.FP32 and DType.FP32 in device.vector_peak_flops_per_s:
        # NB: an fp32 GEMM without a matrix-unit fp32 mode runs on the vector units.
        return device.vector_peak_flops_per_s[DType.FP32]
    return device.matrix_peak(dtype)  # raises the clear "device has no ... peak" error


def price(a: OpArrays, device: DeviceSpec, profile: EfficiencyProfile, traced: DType,
          precision: Precision) -> OpTimes:
    matrix_peak, vector_peak = peaks(a, device, traced, precision, profile)
    on_matrix = a.on_matrix
    is_attn = a.kind == ATTN_CODE
    units = device.compute_units
    eff = np.where(is_attn,
                   attention_efficiency(a.m, a.n, a.k, a.batch, units, profile),
                   gemm_efficiency(a.m, a.n, a.k, a.batch, units, profile))
    matrix_rate = matrix_peak * eff
    vector_rate = vector_peak * profile.vector_fraction
    compute_s = np.where(on_matrix, a.flops / np.where(on_matrix, matrix_rate, 1.0),
                         a.flops / vector_rate)
    extra_flops = dequant_flops(a, traced, precision, profile)
    compute_s = compute_s + extra_flops / vector_rate
    moved = scaled_bytes(a, traced, precision)
    memory_s = moved / (device.mem_bw_bytes_per_s * memory_efficiency(moved, profile))
    view = a.kind == VIEW_CODE
    overhead_s = np.where(view, 0.0, profile.kernel_overhead_s)
    compute_s = np.where(view, 0.0, compute_s)
    memory_s = np.where(view, 0.0, memory_s)
    busy = np.maximum(compute_s, memory_s)
    bound = np.where(overhead_s > busy, 2, np.where(compute_s >= memory_s, 0, 1))
    return OpTimes(compute_s=compute_s, memory_s=memory_s, overhead_s=overhead_s,
                   time_s=busy + overhead_s, bound=bound, flops=a.flops + extra_flops,
                   bytes=moved)


def dequant_flops(a: OpArrays, traced: DType, precision: Precision,
                   profile: EfficiencyProfile) -> np.ndarray:
    """Weight-only or KV-only low precision is widened to the compute format in the kernel."""
    extra = np.zeros(len(a))
    if precision.weights is not precision.activations:
        # NB: dequantization runs on the vector units, serial with the matrix work.
        extra += a.weight_elements * profile.dequant_flops_per_element
    if precision.kv_cache is not precision.activations:
        kv_elements = a.kv_read_bytes / traced.bytes
        extra += np.where(a.kind == ATTN_CODE, kv_elements, 0.0) * profile.dequant_flops_per_element
    return extra
