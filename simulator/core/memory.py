"""Memory footprint on one device: weights, KV cache, activations, gradients, optimizer.

Out of memory is a result: `Footprint.feasible` is False and the parts say why.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hwspecs.dtypes import DType
from simulator.core.arrays import PASSES, OpArrays
from simulator.core.precision import Precision
from workloads.op import Pass, Phase, Workload

# Mixed-precision AdamW keeps an fp32 master copy and two fp32 moments per parameter.
MASTER_BYTES = DType.FP32.bytes
ADAM_MOMENT_BYTES = 2 * DType.FP32.bytes


class Recompute(enum.Enum):
    NONE = "none"            # keep every activation backward reads
    SELECTIVE = "selective"  # keep matrix-op outputs, recompute cheap elementwise/norm ones
    FULL = "full"            # keep each layer's input, recompute the layer in backward

    @classmethod
    def parse(cls, name: str) -> Recompute:
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"unknown recompute policy {name!r}; use none, selective or "
                             "full") from None


@dataclass(frozen=True)
class Footprint:
    weights_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    gradient_bytes: float
    optimizer_bytes: float
    capacity_bytes: float

    @property
    def total_bytes(self) -> float:
        return (self.weights_bytes + self.kv_cache_bytes + self.activation_bytes
                + self.gradient_bytes + self.optimizer_bytes)

    @property
    def feasible(self) -> bool:
        return self.total_bytes <= self.capacity_bytes

    def as_dict(self) -> dict[str, float | bool]:
        return {"weights_bytes": self.weights_bytes, "kv_cache_bytes": self.kv_cache_bytes,
                "activation_bytes": self.activation_bytes,
                "gradient_bytes": self.gradient_bytes, "optimizer_bytes": self.optimizer_bytes,
                "total_bytes": self.total_bytes, "capacity_bytes": self.capacity_bytes,
                "feasible": self.feasible}


def weights_bytes(w: Workload, precision: Precision) -> float:
    return w.model.params * precision.weight_bytes_per_element()


def kv_cache_bytes(w: Workload, precision: Precision) -> float:
    """The cache after this step, in the KV format."""
    return w.kv_cache_bytes * precision.kv_cache.bits / w.dtype.bits


def transient_activation_bytes(a: OpArrays, w: Workload, precision: Precision) -> float:
    """Inference: the largest single kernel's activation inputs plus outputs.

    NB: assumes buffers are freed as soon as the next kernel has consumed them."""
    if len(a) == 0:
        return 0.0
    per_op = (a.act_read_bytes + a.act_write_bytes) * precision.activations.bits / w.dtype.bits
    return float(per_op.max())


def saved_activation_bytes(a: OpArrays, w: Workload, precision: Precision,
                           recompute: Recompute) -> float:
    scale = precision.activations.bits / w.dtype.bits
    saved = w.saved_activation_bytes * scale
    if recompute is Recompute.NONE:
        return saved
    layers = max(w.model.layers, 1)
    if recompute is Recompute.FULL:
        # Each layer's input (B x S x hidden) is kept; one layer's activations live at a time.
        inputs = w.tokens * w.model.hidden_size * precision.activations.bytes * layers
        return inputs + saved / layers
    forward = a.pass_ == PASSES.index(Pass.FORWARD)
    matrix_out = float((a.act_write_bytes * (forward & a.on_matrix)).sum())
    all_out = float((a.act_write_bytes * forward).sum())
    # NB: selective keeps the share of saved bytes that matrix ops produced in forward.
    return saved * (matrix_out / all_out if all_out else 1.0)


def footprint(a: OpArrays, w: Workload, precision: Precision, capacity_bytes: float,
              recompute: Recompute = Recompute.NONE) -> Footprint:
    params = w.model.params
    if w.phase is Phase.TRAIN:
        master = MASTER_BYTES if precision.weights.bits < 32 else 0.0
        return Footprint(
            weights_bytes=weights_bytes(w, precision) + params * master,
            kv_cache_bytes=0.0,
            activation_bytes=saved_activation_bytes(a, w, precision, recompute),
            gradient_bytes=params * precision.weights.bytes,
            optimizer_bytes=params * ADAM_MOMENT_BYTES,
            capacity_bytes=capacity_bytes)
    return Footprint(
        weights_bytes=weights_bytes(w, precision),
        kv_cache_bytes=kv_cache_bytes(w, precision),
        activation_bytes=transient_activation_bytes(a, w, precision),
        gradient_bytes=0.0, optimizer_bytes=0.0, capacity_bytes=capacity_bytes)


def max_batch(a: OpArrays, w: Workload, precision: Precision, capacity_bytes):
    """Largest batch that fits for inference (an int, or an array per capacity given).

    NB: scales the KV cache and activations of this workload's batch linearly."""
    per_seq = (kv_cache_bytes(w, precision) + transient_activation_bytes(a, w, precision)) \
        / max(w.batch, 1)
    return batch_fit(weights_bytes(w, precision), per_seq, capacity_bytes)


def batch_fit(fixed_bytes: float, per_seq_bytes: float, capacity_bytes):
    """Sequences that fit beside `fixed_bytes` when each takes `per_seq_bytes` (0 where the
    fixed part alone does not fit); an int for one capacity, an int64 array for several."""
    capacity = np.asarray(capacity_bytes, dtype=float)
    if per_seq_bytes <= 0:
        fits = np.full(capacity.shape, np.iinfo(np.int32).max, dtype=np.int64)
    else:
        fits = ((capacity - fixed_bytes) // per_seq_bytes).astype(np.int64)
    fits = np.where(fixed_bytes > capacity, 0, fits)
    return int(fits) if fits.ndim == 0 else fits
