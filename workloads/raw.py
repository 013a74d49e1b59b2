"""The raw trace: one record per aten op, as the tracer saw it, before any lowering.

This is the contract between `workloads/trace/front.py` (which records it) and `workloads/ops/` and
`workloads/lower/fuse.py` (which turn it into priced kernels, `op.Op`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import ModelFacts, Pass, Phase, Tensor


@dataclass(frozen=True)
class RawOp:
    target: str                          # aten overload, e.g. "aten.mm.default"
    inputs: tuple[Tensor, ...]           # tensor arguments in call order
    outputs: tuple[Tensor, ...]
    input_ids: tuple[int, ...]           # identity of each input tensor (same order): data deps
    output_ids: tuple[int, ...]
    args: tuple[Any, ...] = ()           # non-tensor arguments as plain Python values
    module: str = ""                     # module path from the hook stack, e.g. model.layers.3.mlp
    layer: int = -1                      # index in the repeated layer stack, -1 outside it
    pass_: Pass = Pass.FORWARD
    attrs: Mapping[str, Any] = field(default_factory=dict)  # e.g. SDPA: causal, gqa, scale


@dataclass(frozen=True)
class RawTrace:
    """Every aten op of one model step, with the model facts and the step's sizes."""

    facts: ModelFacts
    phase: Phase
    batch: int
    seq: int
    context: int
    dtype: DType
    ops: tuple[RawOp, ...]
