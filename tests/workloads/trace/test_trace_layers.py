"""Tracing a few layers and copying them out equals tracing every layer, op for op.

Compared: target, shapes, dtypes, roles, arguments, attributes, module path, layer, pass, and
the data dependencies (tensor identities up to renaming).
"""

from __future__ import annotations

import pytest

from hwspecs.dtypes import DType
from tests.workloads.tiny_models import write_tiny
from workloads.config import find_config
from workloads.op import Phase
from workloads.trace.layer_plan import plan_layers
from workloads.trace.session import session_for


def canonical(ops):
    names: dict[int, int] = {}
    return [(op.target, op.inputs, op.outputs, op.args, op.module, op.layer, op.pass_, op.attrs,
             tuple(names.setdefault(x, len(names)) for x in (*op.input_ids, *op.output_ids)))
            for op in ops]


CASES = [
    ("tiny-llama", Phase.PREFILL, (2, 8, 0)), ("tiny-llama", Phase.DECODE, (2, 1, 12)),
    ("tiny-llama", Phase.TRAIN, (2, 8, 0)), ("tiny-gemma3", Phase.DECODE, (1, 1, 12)),
    ("tiny-deepseek-v3", Phase.PREFILL, (1, 6, 0)), ("tiny-qwen3-moe", Phase.DECODE, (2, 1, 5)),
    ("tiny-bert", Phase.TRAIN, (2, 8, 0)), ("tiny-gpt2", Phase.PREFILL, (2, 8, 0)),
]


@pytest.mark.parametrize("name, phase, sizes", CASES)
def test_copied_layers_equal_a_full_trace(tmp_path, name, phase, sizes):
    layers = 12 if name == "tiny-gemma3" else 7
    key = "n_layer" if name == "tiny-gpt2" else "num_hidden_layers"
    session = session_for(find_config(write_tiny(tmp_path, name, **{key: layers})), DType.BF16)
    assert session.plan.reduced and len(session.plan.traced) < layers
    copied = session.trace(phase, *sizes)
    assert session.expanded[phase]
    full = session.trace(phase, *sizes, reduce=False)
    assert canonical(copied.ops) == canonical(full.ops)


def test_plan_copies_middle_layers_with_matching_neighbours():
    assert plan_layers(["a"] * 3).traced == (0, 1, 2)                     # too few to reduce
    plan = plan_layers(["a"] * 10)
    assert plan.traced == (0, 1, 2, 9) and plan.source == (0, 1, 2, 1, 1, 1, 1, 1, 1, 9)
    dense_then_moe = ["d", "d", "d"] + ["m"] * 8                         # DeepSeek-V3 style
    plan = plan_layers(dense_then_moe)
    for i in range(11):
        src = plan.source[i]
        assert dense_then_moe[src] == dense_then_moe[i]
        if 0 < i < 10:
            assert dense_then_moe[src - 1:src + 2] == dense_then_moe[i - 1:i + 2]
    assert plan_layers(["a", "b", "c", "d", "e", "f"]).reduced is False  # nothing repeats
