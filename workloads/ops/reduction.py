"""Reductions, scans, sorts and losses: one FLOP per input element, inputs read once.

Row reductions (sum, mean, max over a dim) can join a fused kernel; sorts, scans, top-k,
histograms and losses run as kernels of their own.
"""

from __future__ import annotations

from workloads.op import OpKind
from workloads.ops.registry import register
from workloads.ops.work import Fuse, Work, all_in, all_out, numel, widest_dtype
from workloads.raw import RawOp

_ROW = ("sum", "mean", "amax", "amin", "max", "min", "argmax", "argmin", "prod", "var",
        "var_mean", "std", "std_mean", "any", "all", "norm", "linalg_vector_norm", "logsumexp",
        "count_nonzero", "aminmax")
_OWN = ("cumsum", "cumprod", "cummax", "topk", "sort", "argsort", "histc", "bincount",
        "nll_loss_forward", "nll_loss_backward", "nll_loss2d_forward", "nll_loss2d_backward",
        "mse_loss", "mse_loss_backward", "kthvalue", "median", "mode", "unique", "_unique2",
        "unique_consecutive", "searchsorted", "bucketize", "multinomial")


def _reduce(op: RawOp) -> Work:
    # NB: one FLOP per input element, for sorts and top-k too (comparisons are not counted).
    n = numel(op.inputs[0].shape) if op.inputs else 0
    return Work(float(n), all_in(op), all_out(op), widest_dtype(op))


register(*(f"aten.{n}" for n in _ROW), kind=OpKind.REDUCTION, fuse=Fuse.ROWWISE)(_reduce)
register(*(f"aten.{n}" for n in _OWN), *(f"aten.{n}_" for n in ("cumsum", "cumprod")),
         kind=OpKind.REDUCTION)(_reduce)
