"""Re-shaping a trace to another batch, sequence or context length without tracing again.

A phase has two size variables: x = batch, and y = seq (train, prefill) or context (decode).
Every integer in a trace (each dim of each shape, each int argument, each attention length)
is a polynomial of degree 1 in x and 1 (or 2) in y, as long as the sizes stay in one *cell*: the
same side of every attention window of the model (sliding window, chunk), away from its edges
and from tiny sizes, and batch 1 or more than 1, where the model code may branch. So the tracer traces a cell at 2x2 (or
2x3) small sizes, fits every integer exactly, and checks the fit against a real trace at a
size it did not use; a `TraceTemplate` then gives the trace at any size of its cell by
evaluating the polynomials. Sizes at an edge (y <= 2, or within 2 tokens of a window) have no
cell and are always traced.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import ModelFacts, Phase, Tensor
from workloads.raw import RawOp
from workloads.trace.layer_expand import Step, apply_expansion

_X_SAMPLES = (2, 3)        # batch sizes the fit traces
_X_CHECK = 5               # batch of the check trace when the asked size is a sample
_EDGE = 2                  # tokens around a window (and y up to this) are edges: no cell
_SLOT = object()           # where an integer sat in an op's skeleton
_BIG = 2 ** 40             # larger integers (INT64_MAX as "to the end") are constants
_WINDOW_KEYS = ("sliding_window", "attention_chunk_size")


def windows_of(config: dict[str, Any]) -> tuple[int, ...]:
    """Attention spans a config sets (sliding window, chunk): where the model code branches."""
    found = set()
    for key in _WINDOW_KEYS:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            found.add(value)
    text = config.get("text_config")
    if isinstance(text, dict):
        found.update(windows_of(text))
    return tuple(sorted(found))


@dataclass(frozen=True)
class Cell:
    """Sizes that trace alike: one phase, one side of every window; y from `y_low` up."""

    phase: Phase
    side: int          # how many windows the attention span exceeds
    y_low: int         # smallest y in the cell the fit may use
    y_high: int        # largest y in the cell (inclusive), -1 for no limit
    single: bool       # batch 1: the model code takes other paths for one sequence

    @property
    def key(self) -> str:
        return f"{self.phase.value}-w{self.side}{'-b1' if self.single else ''}"


def variables(phase: Phase, batch: int, seq: int, context: int) -> tuple[int, int]:
    return batch, (context if phase is Phase.DECODE else seq)


def sizes(phase: Phase, x: int, y: int) -> tuple[int, int, int]:
    """(batch, seq, context) for variables x, y."""
    return (x, 1, y) if phase is Phase.DECODE else (x, y, 0)


def cell_of(phase: Phase, batch: int, seq: int, context: int,
            windows: tuple[int, ...]) -> Cell | None:
    """The cell of these sizes, or None at an edge (they are traced as asked)."""
    _, y = variables(phase, batch, seq, context)
    span = seq + context
    if y <= _EDGE or any(abs(span - w) <= _EDGE for w in windows):
        return None
    offset = span - y                  # span = y + offset (1 for decode, 0 otherwise)
    below = [w for w in windows if w < span]
    above = [w for w in windows if w > span]
    y_low = max(_EDGE + 1, (max(below) + _EDGE + 1 - offset) if below else 0)
    y_high = (min(above) - _EDGE - 1 - offset) if above else -1
    if y_high != -1 and y_high - y_low < 4:
        return None
    return Cell(phase, len(below), y_low, y_high, batch == 1)


def sample_points(cell: Cell, degree: int) -> list[tuple[int, int]]:
    ys = [cell.y_low + k for k in range(degree + 1)]
    return [(x, y) for y in ys for x in ((1,) if cell.single else _X_SAMPLES)]


def check_point(cell: Cell, asked: tuple[int, int], degree: int) -> tuple[int, int]:
    """The asked size, unless the fit used it: then another size of the cell."""
    if asked not in sample_points(cell, degree):
        return asked
    return (1 if cell.single else _X_CHECK), cell.y_low + degree + 2


def _monomials(x: int, y: int, degree: int, single: bool) -> list[float]:
    if single:                      # batch fixed at 1: a polynomial in y alone
        return [1.0, y] + ([y * y] if degree == 2 else [])
    row = [1.0, x, y, x * y]
    if degree == 2:
        row += [y * y, x * y * y]
    return row


@dataclass(frozen=True)
class TraceTemplate:
    """A trace with every integer a polynomial in (x, y): any size of one cell, at once."""

    facts: ModelFacts
    cell: Cell
    dtype: DType
    degree: int
    skeleton: tuple[RawOp, ...]        # the traced ops (reduced stack) at the first sample
    offsets: tuple[int, ...]           # op k's integers are rows offsets[k]:offsets[k+1]
    dynamic: tuple[bool, ...]          # op k has an integer that depends on x or y
    coef: tuple[tuple[float, ...], ...]  # per integer, the weight of each monomial
    steps: tuple[Step, ...]            # how the full op list is built from the skeleton

    def ops(self, x: int, y: int) -> tuple[RawOp, ...]:
        flat = _evaluate(self.coef, _monomials(x, y, self.degree, self.cell.single))
        made: dict[tuple, Tensor] = {}
        ops = []
        paused = gc.isenabled()
        gc.disable()       # many small acyclic objects: no cycle to collect meanwhile
        try:
            for k, op in enumerate(self.skeleton):
                if self.dynamic[k]:
                    op = _rebuild(op, iter(flat[self.offsets[k]:self.offsets[k + 1]]), made)
                ops.append(op)
        finally:
            if paused:
                gc.enable()
        return apply_expansion(ops, self.steps)


def _evaluate(coef: tuple[tuple[float, ...], ...], m: list[float]) -> list[int]:
    """Every integer at one size. NB: plain Python: a cache hit must not pay numpy's import."""
    if len(m) == 4:
        _, x, y, xy = m
        return [round(a + b * x + c * y + d * xy) for a, b, c, d in coef]
    return [round(sum(c * v for c, v in zip(row, m, strict=True))) for row in coef]


def fit_template(facts: ModelFacts, cell: Cell, dtype: DType, degree: int,
                 samples: list[tuple[tuple[int, int], tuple[RawOp, ...]]],
                 steps: tuple[Step, ...]) -> TraceTemplate | None:
    """Fit every integer over the samples; None if the samples differ in anything else."""
    (_, first), keys = samples[0], None
    columns = []
    for _, ops in samples:
        walked = [_walk_op(op) for op in ops]
        these = [w[0] for w in walked]
        if keys is None:
            keys = these
        elif these != keys:
            return None
        columns.append([v for w in walked for v in w[1]])
    import numpy as np

    values = np.array(columns, dtype=np.float64)                      # [samples, integers]
    basis = np.array([_monomials(x, y, degree, cell.single) for (x, y), _ in samples])
    coef = np.linalg.solve(basis, values).T                           # [integers, monomials]
    coef = np.round(coef * 2) / 2   # NB: the shape formulas seen have integer or half weights
    if not np.array_equal(np.rint(basis @ coef.T), values):
        return None
    counts = [len(_walk_op(op)[1]) for op in first]
    offsets = tuple(np.concatenate([[0], np.cumsum(counts)]).astype(int).tolist())
    moving = np.any(coef[:, 1:] != 0, axis=1)
    dynamic = tuple(bool(moving[offsets[k]:offsets[k + 1]].any()) for k in range(len(first)))
    rows = tuple(tuple(float(c) for c in row) for row in coef.tolist())
    return TraceTemplate(facts, cell, dtype, degree, tuple(first), offsets, dynamic, rows,
                         steps)


def same_ops(a: tuple[RawOp, ...], b: tuple[RawOp, ...]) -> bool:
    return len(a) == len(b) and all(x == y for x, y in zip(a, b, strict=True))


def _walk_op(op: RawOp) -> tuple[tuple, list[int]]:
    """(everything but the integers, the integers in a fixed order)."""
    ints: list[int] = []
    attrs = {k: v for k, v in op.attrs.items() if k != "sdpa_call"}
    body = _walk((tuple(t.shape for t in op.inputs), tuple(t.shape for t in op.outputs),
                  op.args, attrs), ints)
    key = (op.target, body, tuple((t.dtype, t.role) for t in op.inputs),
           tuple((t.dtype, t.role) for t in op.outputs), op.input_ids, op.output_ids,
           op.module, op.layer, op.pass_, op.attrs.get("sdpa_call"))
    return key, ints


def _walk(value: Any, ints: list[int]) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (float, str)):
        return value
    if isinstance(value, int) and abs(value) < _BIG:
        ints.append(value)
        return _SLOT
    if isinstance(value, tuple):
        return tuple(_walk(v, ints) for v in value)
    if isinstance(value, dict):
        return {k: _walk(v, ints) for k, v in value.items()}
    return value


def _fill(value: Any, it) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _BIG:
        return next(it)
    if isinstance(value, tuple):
        return tuple(_fill(v, it) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, it) for k, v in value.items()}
    return value


def _rebuild(op: RawOp, it, made: dict[tuple, Tensor]) -> RawOp:
    shapes_in = [_fill(t.shape, it) for t in op.inputs]
    shapes_out = [_fill(t.shape, it) for t in op.outputs]
    args = _fill(op.args, it)
    attrs = {k: (v if k == "sdpa_call" else _fill(v, it)) for k, v in op.attrs.items()}
    new = object.__new__(RawOp)
    new.__dict__.update(op.__dict__)
    new.__dict__.update(inputs=_tensors(op.inputs, shapes_in, made),
                        outputs=_tensors(op.outputs, shapes_out, made), args=args, attrs=attrs)
    return new


def _tensors(old: tuple[Tensor, ...], shapes, made: dict[tuple, Tensor]) -> tuple[Tensor, ...]:
    out = []
    for t, shape in zip(old, shapes, strict=True):
        key = (shape, t.dtype, t.role)
        found = made.get(key)
        if found is None:
            found = made[key] = Tensor(shape, t.dtype, t.role)
        out.append(found)
    return tuple(out)
