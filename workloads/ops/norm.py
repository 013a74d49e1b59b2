"""Row-wise kernels: layer and RMS norms, softmax and log-softmax, forward and backward.

Each reads its inputs once and writes its outputs once (one pass over the row in on-chip
memory). FLOPs per element count the arithmetic of the textbook formula, stated per op.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Fuse, Work, all_in, all_out, numel, widest_dtype
from workloads.raw import RawOp

# FLOP per element of the normalized input:
LAYER_NORM = 7            # mean (1), centre (1), variance (2), scale by 1/std (1), affine (2)
LAYER_NORM_BACKWARD = 12  # dx (8: two row sums and the combination) + dgamma, dbeta (4)
RMS_NORM = 4              # square (1), sum (1), scale by 1/rms (1), weight (1)
RMS_NORM_BACKWARD = 8
SOFTMAX = 5               # max (1), subtract (1), exp (1), sum (1), divide (1)
SOFTMAX_BACKWARD = 4      # grad*out (1), row sum (1), subtract (1), multiply (1)
LOG_SOFTMAX_BACKWARD = 3  # exp(out) (1), row sum * it (1), subtract (1)


def _per_element(flops_per_element: int, index: int = 0):
    def fn(op: RawOp) -> Work:
        n = numel(op.inputs[index].shape)
        return Work(float(flops_per_element * n), all_in(op), all_out(op), widest_dtype(op))
    return fn


register("aten.native_layer_norm", "aten.layer_norm", kind=OpKind.NORM,
         fuse=Fuse.ROWWISE)(_per_element(LAYER_NORM))
register("aten.native_layer_norm_backward", kind=OpKind.NORM,
         fuse=Fuse.ROWWISE)(_per_element(LAYER_NORM_BACKWARD, 1))
register("aten._fused_rms_norm", "aten.rms_norm", kind=OpKind.NORM,
         fuse=Fuse.ROWWISE)(_per_element(RMS_NORM))
register("aten._fused_rms_norm_backward", kind=OpKind.NORM,
         fuse=Fuse.ROWWISE)(_per_element(RMS_NORM_BACKWARD, 1))
register("aten.native_group_norm", "aten.group_norm", kind=OpKind.NORM,
         fuse=Fuse.ROWWISE)(_per_element(LAYER_NORM))
register("aten._softmax", "aten._safe_softmax", "aten.softmax", "aten._log_softmax",
         "aten.log_softmax", kind=OpKind.SOFTMAX, fuse=Fuse.ROWWISE)(_per_element(SOFTMAX))
register("aten._softmax_backward_data", kind=OpKind.SOFTMAX,
         fuse=Fuse.ROWWISE)(_per_element(SOFTMAX_BACKWARD))
register("aten._log_softmax_backward_data", kind=OpKind.SOFTMAX,
         fuse=Fuse.ROWWISE)(_per_element(LOG_SOFTMAX_BACKWARD))
