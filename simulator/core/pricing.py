"""The one pricing core: every kernel of a workload on a device, for V spec variants at once.

    times = price(arrays, device, profile, traced, precision)            # one row
    times = price(arrays, device, profile, traced, precision, variants)  # V rows

Per kernel: time = max(compute_s, memory_s) + overhead_s, where compute_s = FLOPs / (peak x
shape-dependent efficiency) on the matrix units (GEMMs, attention) or the vector units, plus
dequantization work on the vector units, and memory_s = bytes moved / (bandwidth x memory
efficiency); views cost nothing. The bound is whichever term is largest.

A variant multiplies each kernel's peak by the factor of the spec table it comes from (a
TPU's vector work runs at a matrix peak) and the bandwidth by `mem_bw`, so row i equals
pricing `device.scaled(variants.factors[i])` alone to the last bit: the same products in the
same order. Every caller (a single device, training slots, inference steps, plan points,
sweeps, the app's what-if) prices here; power, energy and dollars follow in `cost`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.arrays import DTYPE_CODE, DTYPES, OpArrays
from simulator.core.efficiency import (
    attention_efficiency,
    memory_efficiency,
)
from simulator.core.kernel_classes import (
    attention_scale,
    decode_memory_efficiency,
    decode_per_head,
    decode_row_s,
    gemm_by_dtype,
    overheads,
)
from simulator.core.precision import Precision
from simulator.core.profile import EfficiencyProfile
from simulator.core.variants import Variants


class Bound(enum.Enum):
    """What sets a kernel's time; arrays hold its index in `BOUNDS`."""

    COMPUTE = "compute"
    MEMORY = "memory"
    OVERHEAD = "overhead"


BOUNDS = tuple(Bound)
_COMPUTE, _MEMORY, _OVERHEAD = (BOUNDS.index(b) for b in BOUNDS)
_BOUND_VALUES = np.array([b.value for b in BOUNDS], dtype=object)


@dataclass(frozen=True)
class KernelTimes:
    """Seconds per kernel as (V, n) arrays; `flops` and `bytes` (n,) are the same in every row.
    """

    compute_s: np.ndarray
    memory_s: np.ndarray
    overhead_s: np.ndarray
    time_s: np.ndarray
    busy_s: np.ndarray       # max(compute, memory): the time the device is busy (for power)
    bound: np.ndarray        # index into BOUNDS
    flops: np.ndarray        # work executed (dequantization included)
    bytes: np.ndarray        # bytes moved after precision what-ifs

    def expand(self, inverse: np.ndarray) -> KernelTimes:
        """Distinct kernels' times mapped back to every row they stand for."""
        return KernelTimes(*(np.take(x, inverse, axis=-1) for x in (
            self.compute_s, self.memory_s, self.overhead_s, self.time_s, self.busy_s,
            self.bound, self.flops, self.bytes)))

    def row(self, i: int = 0) -> KernelTimes:
        """One variant's times as (n,) arrays."""
        return KernelTimes(self.compute_s[i], self.memory_s[i], self.overhead_s[i],
                           self.time_s[i], self.busy_s[i], self.bound[i], self.flops,
                           self.bytes)

    @property
    def total_s(self) -> float:
        """One row's total (after `row`)."""
        return float(self.time_s.sum())


def scaled_bytes(a: OpArrays, traced: DType, precision: Precision) -> np.ndarray:
    """Bytes moved per op once weights, activations and KV take their what-if formats."""
    t = traced.bits
    weights = a.weight_read_bytes * (precision.weight_bytes_per_element() * 8 / t)
    acts = (a.act_read_bytes + a.act_write_bytes) * (precision.activations.bits / t)
    kv = (a.kv_read_bytes + a.kv_write_bytes) * (precision.kv_cache.bits / t)
    return weights + acts + kv + a.other_bytes


def l2_saving(a: OpArrays, traced: DType, precision: Precision, l2_bytes: float,
              profile: EfficiencyProfile) -> np.ndarray:
    """Bytes' worth of memory time saved by activations read from the L2 cache: inputs that
    fit in it stream at `l2_bw_ratio` x the memory bandwidth.

    NB: a kernel's activation inputs are taken to be in L2 whenever they fit (the kernel
    before it just wrote them); weights and the KV cache always come from memory."""
    acts = a.act_read_bytes * (precision.activations.bits / traced.bits)
    cached = np.where(acts <= l2_bytes, acts, 0.0)
    return cached * (1.0 - 1.0 / profile.l2_bw_ratio)


def dequant_flops(a: OpArrays, traced: DType, precision: Precision,
                  profile: EfficiencyProfile) -> np.ndarray:
    """Weight-only or KV-only low precision is widened to the compute format in the kernel."""
    extra = np.zeros(len(a))
    if precision.weights is not precision.activations:
        # NB: dequantization runs on the vector units, serial with the matrix work.
        extra += a.weight_elements * profile.dequant_flops_per_element
    if precision.kv_cache is not precision.attention:
        kv_elements = a.kv_read_bytes / traced.bytes
        extra += np.where(a.is_attention, kv_elements, 0.0) * profile.dequant_flops_per_element
    return extra


@dataclass(frozen=True)
class Peaks:
    """Each kernel's matrix and vector peak (n,) and whether each follows the other unit's
    scale factor (an fp32 GEMM on the vector units; vector work on a TPU's matrix peak)."""

    matrix: np.ndarray
    matrix_on_vector: np.ndarray
    vector: np.ndarray
    vector_on_matrix: np.ndarray
    dtypes: tuple[str, ...]     # the compute dtypes: one per `a.dtype_codes`, then attention's
    dtype_index: np.ndarray     # each row's index into `dtypes`


def peaks(a: OpArrays, device: DeviceSpec, traced: DType, precision: Precision) -> Peaks:
    """Per dtype present, the device's figures, spread to the rows by one table lookup.
    Attention at the traced dtype computes in `precision.attention`, which may differ from
    the other kernels' format (its own entry, after those of `a.dtype_codes`)."""
    if precision.weights.block_scaled and precision.weights is not precision.activations:
        device.check_weight_format(precision.weights)      # weight-only: W4A16, W4A8
    codes = a.dtype_codes
    formats = [precision.activations if DTYPES[c] is traced else DTYPES[c] for c in codes]
    index = a.dtype_index
    traced_code = DTYPE_CODE[traced]
    if precision.attention is not precision.activations and traced_code in codes:
        own = a.is_attention & (a.compute_dtype == traced_code)
        if own.any():
            formats.append(precision.attention)
            index = np.where(own, len(codes), index)
    on_unit = [c in a.matrix_dtype_codes for c in codes] + [True] * (len(formats) - len(codes))
    m_peak, m_vec, s_peak, v_peak, v_mat = [], [], [], [], []
    for dtype, on_matrix in zip(formats, on_unit, strict=True):
        dense, table = device.gemm_peak_entry(dtype) if on_matrix else (0.0, "matrix")
        m_peak.append(dense)
        m_vec.append(table == "vector")
        s_peak.append(device.gemm_peak_entry(dtype, sparse=True)[0]
                      if on_matrix and precision.sparse else 0.0)
        peak, table = device.vector_peak_entry(dtype)
        v_peak.append(peak)
        v_mat.append(table == "matrix")
    on_matrix = a.on_matrix
    matrix = np.where(on_matrix, np.array(m_peak)[index], 0.0)
    matrix_on_vector = on_matrix & np.array(m_vec)[index]
    if precision.sparse:
        sparse_rows = on_matrix & (a.weight_elements > 0)
        matrix = np.where(sparse_rows, np.array(s_peak)[index], matrix)
        matrix_on_vector = matrix_on_vector & ~sparse_rows
    return Peaks(matrix, matrix_on_vector, np.array(v_peak)[index], np.array(v_mat)[index],
                 tuple(f.value for f in formats), index)


def _follow(base: np.ndarray, other: np.ndarray, own: np.ndarray, on_other: np.ndarray
            ) -> np.ndarray:
    """(V, n): each kernel's peak times its table's factor per variant."""
    factor = np.where(on_other, other[:, None], own[:, None]) if on_other.any() \
        else own[:, None]
    return base * factor


def price(a: OpArrays, device: DeviceSpec, profile: EfficiencyProfile, traced: DType,
          precision: Precision, variants: Variants | None = None) -> KernelTimes:
    """Every kernel of `a` on `device` (one row), or on each of `variants` (V rows)."""
    pk = peaks(a, device, traced, precision)
    on_matrix = a.on_matrix
    units = device.compute_units
    gemm = gemm_by_dtype(a, profile, pk.dtypes, units)
    eff = np.where(a.is_attention,
                   attention_efficiency(a.m, a.n, a.k, a.batch, units, profile,
                                        a.visible_keys), gemm)
    scale = attention_scale(a, profile, pk.dtypes, pk.dtype_index)
    if scale is not None:
        eff = eff * scale
    moved = scaled_bytes(a, traced, precision)
    mem_eff = memory_efficiency(moved, profile)
    per_head = decode_per_head(a, profile)
    decode = decode_memory_efficiency(a, moved, profile, per_head)
    if decode is not None:
        mem_eff = np.where(np.isnan(decode), mem_eff, decode)
    if variants is None:
        matrix_peak, vector_peak = pk.matrix[None, :], pk.vector[None, :]
        bw = device.mem_bw_bytes_per_s
    else:
        matrix_peak = _follow(pk.matrix, variants.vector, variants.matrix, pk.matrix_on_vector)
        vector_peak = _follow(pk.vector, variants.matrix, variants.vector, pk.vector_on_matrix)
        bw = (device.mem_bw_bytes_per_s * variants.mem_bw)[:, None]
    vector_rate = vector_peak * profile.vector_fraction
    # NB: every rate is positive (peaks, efficiencies and bandwidths are), so no 0 divides.
    compute_s = a.flops / np.where(on_matrix, matrix_peak * eff, vector_rate)
    dequant = precision.weights is not precision.activations \
        or precision.kv_cache is not precision.activations
    extra = dequant_flops(a, traced, precision, profile) if dequant else None
    if extra is not None:
        compute_s = compute_s + extra / vector_rate
    if per_head is not None:
        compute_s = np.where(per_head, a.flops / (vector_peak * profile.decode_head_fraction),
                             compute_s)
    rows_s = decode_row_s(a, profile, units, per_head)
    if rows_s is not None:
        compute_s = np.maximum(compute_s, rows_s)
    memory_s = moved / (bw * mem_eff)
    if profile.l2_bw_ratio > 0 and device.l2_bytes:
        memory_s = memory_s - l2_saving(a, traced, precision, device.l2_bytes, profile) \
            / (bw * mem_eff)
    if variants is None:
        memory_s = memory_s[None, :]
    per_class = overheads(a, profile, pk.dtypes, pk.dtype_index)
    overhead = profile.kernel_overhead_s if per_class is None else per_class
    if a.has_views:
        overhead = np.where(a.is_view, 0.0, overhead)
        compute_s = np.where(a.is_view, 0.0, compute_s)
        memory_s = np.where(a.is_view, 0.0, memory_s)
    busy = np.maximum(compute_s, memory_s) if profile.roofline_sharpness <= 0 \
        else _blend(compute_s, memory_s, profile.roofline_sharpness)
    overhead_s = np.full(busy.shape, overhead) if np.ndim(overhead) == 0 \
        else np.broadcast_to(overhead, busy.shape)
    bound = np.where(overhead_s > busy, _OVERHEAD,
                     np.where(compute_s >= memory_s, _COMPUTE, _MEMORY)).astype(np.int8)
    times = KernelTimes(compute_s=compute_s, memory_s=memory_s, overhead_s=overhead_s,
                        time_s=busy + overhead_s, busy_s=busy, bound=bound,
                        flops=a.flops if extra is None else a.flops + extra, bytes=moved)
    # The measured backend (`measured_pricing.MeasuredProfile`): covered kernels at their
    # measured times.
    reprice = getattr(profile, "reprice", None)
    return times if reprice is None else reprice(a, device, traced, precision, variants, times)


def _blend(compute_s: np.ndarray, memory_s: np.ndarray, p: float) -> np.ndarray:
    """(compute^p + memory^p)^(1/p): the roofline's max where one side dominates, slower
    near the ridge, where a kernel neither streams nor computes at its full rate."""
    hi = np.maximum(compute_s, memory_s)
    lo = np.minimum(compute_s, memory_s)
    ratio = np.divide(lo, hi, out=np.zeros_like(hi), where=hi > 0)
    return hi * (1.0 + ratio ** p) ** (1.0 / p)


def weighted_sum(x: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sum over the last axis of distinct kernels' values, each standing for `counts` kernels
    (row by row in the same order, so V rows equal V single calls)."""
    return (x * counts).sum(axis=-1)


def bound_shares(t: KernelTimes, counts: np.ndarray) -> np.ndarray:
    """(V, 3): the time each bound holds (`BOUNDS` order), distinct kernels weighted by
    `counts`."""
    return np.stack([weighted_sum(np.where(t.bound == i, t.time_s, 0.0), counts)
                     for i in range(len(BOUNDS))], axis=-1)


def dominant_bound(shares: np.ndarray) -> np.ndarray:
    """(V,): the bound (its value, e.g. "memory") holding the largest share of each row of
    `bound_shares`."""
    return _BOUND_VALUES[np.argmax(shares, axis=-1)]
