"""Re-shaping a traced phase to other sizes equals a fresh trace at those sizes, op for op."""

from __future__ import annotations

import pytest

import workloads.trace.session as trace_session
from hwspecs.dtypes import DType
from tests.workloads.tiny_models import write_tiny
from workloads import trace_raw
from workloads.op import Phase, Tensor
from workloads.raw import RawOp
from workloads.trace.reshape import cell_of, fit_template, sample_points, windows_of


def fresh(path, phase, *sizes):
    return trace_raw(path, phase, *sizes, use_cache=False)


@pytest.mark.parametrize("phase, first, others, layers", [
    ("prefill", (2, 9, 0), [(5, 1, 23), (2, 1, 40)], 6),   # 6 layers: copied from 4 traced
    ("decode", (2, 1, 20), [(4, 1, 57), (3, 1, 300)], 2),
    ("train", (1, 9, 0), [(1, 1, 13)], 2),                   # batch 1: a cell of its own
])
def test_reshaped_trace_equals_a_fresh_trace(tmp_path, monkeypatch, phase, first, others,
                                             layers):
    path = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=layers)
    trace_raw(path, phase, *first)                   # fits the template of this cell
    expected = {}
    for b, s, c in others:
        sizes = (b, s, c) if phase == "decode" else (b, c, 0)
        expected[sizes] = fresh(path, phase, *sizes)
    def refuse(*_args, **_kwargs):
        raise AssertionError("traced again instead of re-shaping")
    monkeypatch.setattr(trace_session.TraceSession, "record", refuse)
    for sizes, want in expected.items():
        got = trace_raw(path, phase, *sizes)
        assert (got.batch, got.seq, got.context) == sizes
        assert got.ops == want.ops


def test_sliding_window_sides_are_separate_cells(tmp_path):
    path = write_tiny(tmp_path, "tiny-mistral")            # window 16
    for sizes in [(2, 30, 0), (2, 15, 0)]:                 # 15: next to the window, traced
        assert trace_raw(path, "prefill", *sizes).ops == fresh(path, "prefill", *sizes).ops
    for sizes in [(2, 1, 40)]:                             # the cache beyond the window
        assert trace_raw(path, "decode", *sizes).ops == fresh(path, "decode", *sizes).ops


def test_cells_split_at_windows_and_edges():
    w = (16,)
    assert cell_of(Phase.PREFILL, 1, 2, 0, w) is None          # tiny: an edge
    assert cell_of(Phase.PREFILL, 1, 17, 0, w) is None         # next to the window
    low, high = cell_of(Phase.PREFILL, 2, 9, 0, w), cell_of(Phase.PREFILL, 2, 40, 0, w)
    assert (low.side, high.side) == (0, 1) and low.key != high.key
    assert cell_of(Phase.PREFILL, 7, 10, 0, w) == low         # batch does not matter ...
    assert cell_of(Phase.PREFILL, 1, 9, 0, w).key == "prefill-w0-b1"   # ... unless it is 1
    assert cell_of(Phase.DECODE, 3, 1, 100, ()).key == "decode-w0"
    for x, y in sample_points(high, 2):                        # samples stay inside the cell
        assert cell_of(Phase.PREFILL, x, y, 0, w) == high
    assert windows_of({"sliding_window": 4096, "text_config": {"attention_chunk_size": 8192}}) \
        == (4096, 8192)
    assert windows_of({"sliding_window": None}) == ()


def _op(shape, name="aten.add.Tensor"):
    t = Tensor(shape, DType.BF16)
    return RawOp(name, (t,), (t,), (0,), (1,))


def test_fit_is_exact_and_refuses_samples_that_differ():
    cell = cell_of(Phase.PREFILL, 2, 5, 0, ())
    facts = trace_session.ModelFacts("m", "A", 1, 1, 1, 1, 1, 1, 1, 1)
    points = sample_points(cell, 1)
    samples = [((x, y), (_op((x, y + 1, 3 * x * y)),)) for x, y in points]
    tpl = fit_template(facts, cell, DType.BF16, 1, samples, ((0, None),))
    assert tpl.ops(7, 100)[0].inputs[0].shape == (7, 101, 2100)
    odd = samples[:-1] + [(points[-1], (_op((1, 1, 1), "aten.mul.Tensor"),))]
    assert fit_template(facts, cell, DType.BF16, 1, odd, ((0, None),)) is None
