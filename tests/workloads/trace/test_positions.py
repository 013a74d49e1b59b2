"""Position limits: a learned position table ends (refused past it); rotary and ALiBi
positions run on past the trained range, with a warning."""

from __future__ import annotations

import warnings

import pytest

from hwspecs.errors import PositionWarning
from tests.workloads.tiny_models import write_tiny
from workloads.trace.front import trace_raw


def test_rotary_models_trace_past_their_trained_positions_with_a_warning(tmp_path):
    gptj = write_tiny(tmp_path, "tiny-gptj")          # n_positions 64, rotary
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trace_raw(gptj, "prefill", 1, 64)               # at the limit: no warning
    with pytest.warns(PositionWarning, match="trained on 64 positions; seq \\+ context = 72"):
        tr = trace_raw(gptj, "decode", 1, 1, 71)
    assert tr.context == 71
    llama = write_tiny(tmp_path, "tiny-llama", max_position_embeddings=16)
    with pytest.warns(PositionWarning, match="rotary or ALiBi"):
        trace_raw(llama, "prefill", 1, 20)


def test_learned_position_tables_end(tmp_path):
    with pytest.raises(ValueError, match="learned positions for 128 tokens"):
        trace_raw(write_tiny(tmp_path, "tiny-gpt2"), "decode", 1, 1, 130)
    with pytest.raises(ValueError, match="learned positions for 128 tokens"):
        trace_raw(write_tiny(tmp_path, "tiny-bert"), "prefill", 1, 129)
