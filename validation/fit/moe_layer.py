"""A measured whole-MoE-layer record as the kernels an engine runs for it, priced and summed.

One GPU of the layer (experts / moe_ep of them, each inter / moe_tp wide) runs, for the
`tokens` entering it: the router GEMM (tokens x experts x hidden), routing (top-k and the
permute of the tokens to their experts), the gated experts' up grouped GEMM (gate and up,
2 x inter wide) over the rows routed to this GPU with the activation (silu x up) in its
epilogue, the down grouped GEMM, and the combine (the weighted sum back into token order). The rows and the
experts they touch are the busiest EP rank's under the measured routing
(`moe_routing.busiest_rank`). Each kernel is priced by the pricing core as any kernel is;
the routing and combine kernels are of class `routing`, whose fixed cost the fit finds.
This is the layout the `moe_fused_routing` lowering gives a traced MoE layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec
from simulator.core.profile import EfficiencyProfile
from validation.fit.kernel_records import column, kernel_seconds
from validation.fit.moe_routing import busiest_rank

KERNELS_PER_LAYER = 5
_BF16 = DType.BF16.bytes


def layer_records(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The kernel records of every MoE-layer record, and which record each belongs to."""
    rows = []
    owner = []
    for i, r in enumerate(frame.itertuples(index=False)):
        t, h, e, k = int(r.tokens), int(r.hidden), int(r.experts), int(r.topk)
        ep, tp = int(r.moe_ep), int(r.moe_tp)
        inter = max(int(r.inter) // tp, 1)
        routed, active = busiest_rank(t, k, e, ep, str(r.distribution))
        routed, active = max(routed, 1.0), max(active, 1.0)
        d = DType.parse(str(r.dtype))
        b = d.bytes
        out = _BF16 if d.matrix_format is DType.FP8 else b
        rows += [
            _gemm("gemm", "router", "bf16", t, e, h, 1, (t * h + h * e) * _BF16, t * e * _BF16),
            _copy("routing", "dispatch", t * h * _BF16 + t * e * _BF16, routed * h * b),
            _gemm("grouped_gemm", "experts_up", r.dtype, routed, 2 * inter, h, active,
                  routed * h * b + active * h * 2 * inter * b, routed * inter * b),
            _gemm("grouped_gemm", "experts_down", r.dtype, routed, h, inter, active,
                  routed * inter * b + active * inter * h * b, routed * h * out),
            _copy("routing", "combine", routed * h * out, t * h * _BF16,
                  flops=routed * h),
        ]
        owner += [i] * KERNELS_PER_LAYER
    return pd.DataFrame(rows), np.array(owner, dtype=int)


def _gemm(kernel: str, op: str, dtype: str, m: float, n: int, k: int, groups: float,
          read: float, write: float) -> dict:
    return {"kernel": kernel, "op": op, "dtype": dtype, "m": m, "n": n, "k": k,
            "groups": groups, "batch": 1, "flops": 2.0 * m * n * k, "read_bytes": read,
            "write_bytes": write, "launches": 1}


def _copy(kernel: str, op: str, read: float, write: float, flops: float = 0.0) -> dict:
    return {"kernel": kernel, "op": op, "dtype": "bf16", "m": np.nan, "n": np.nan,
            "k": np.nan, "groups": np.nan, "batch": np.nan, "flops": float(flops),
            "read_bytes": float(read), "write_bytes": float(write), "launches": 1}


def moe_seconds(frame: pd.DataFrame, device: DeviceSpec, profile: EfficiencyProfile
                ) -> np.ndarray:
    kernels, owner = layer_records(frame)
    seconds = kernel_seconds(kernels, device, profile)
    return np.bincount(owner, weights=seconds, minlength=len(frame))


def routed_rows(frame: pd.DataFrame) -> np.ndarray:
    """The busiest EP rank's token-expert rows of each MoE-layer record."""
    return np.array([busiest_rank(int(t), int(k), int(e), int(ep), str(d))[0]
                     for t, k, e, ep, d in zip(column(frame, "tokens"), column(frame, "topk"),
                                              column(frame, "experts"),
                                              column(frame, "moe_ep", 1),
                                              frame["distribution"], strict=True)])
