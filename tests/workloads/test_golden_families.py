"""One golden lowering per model family: kernel counts by kind and total FLOPs, pinned.

Prefill of 2 sequences x 8 tokens on the tiny configs of `tiny_models` (hidden 64, 2-4
layers). A transformers or torch upgrade that changes a family's graph changes these numbers:
look at what changed, and re-pin only if the new graph is right.

Worked for tiny-llama (2 layers, hidden 64, 4 heads of 16, 2 KV heads, MLP 128, vocab 96,
T = 16 tokens): per layer q 2*16*64*64 + k, v 2*2*16*64*32 + o 2*16*64*64 + gate, up, down
3*2*16*64*128 = 1,179,648; lm_head on the last token of each sequence 2*2*64*96 = 24,576;
causal attention 4*2*4*8*8*16*(9/16) = 18,432 per layer: 2,420,736 on the matrix units. The
other 44,272 are the norms, rotary, SiLU, products and residual adds (1 FLOP per element).
"""

from __future__ import annotations

import pytest

from tests.workloads.traced import tiny_trace
from workloads.lower.build import build_workload
from workloads.op import OpKind

GOLDEN = {
    "tiny-llama": ({"ATTENTION": 2, "ELEMENTWISE": 3, "EMBEDDING": 1, "GEMM": 15, "NORM": 5},
                   2465008.0),
    "tiny-mistral": ({"ATTENTION": 2, "ELEMENTWISE": 3, "EMBEDDING": 1, "GEMM": 15, "NORM": 5},
                     2465008.0),
    # MoE families: per layer one routing kernel before the experts and one after (the
    # latter ending in the residual add and the next norm), the activation in the up
    # projection's epilogue (`moe_fused_routing`); FLOPs as traced.
    "tiny-mixtral": ({"ATTENTION": 2, "ELEMENTWISE": 3, "EMBEDDING": 1, "GEMM": 11,
                      "GROUPED_GEMM": 4, "NORM": 3, "ROUTING": 4}, 4071800.0),
    "tiny-qwen2": ({"ATTENTION": 2, "ELEMENTWISE": 3, "EMBEDDING": 1, "GEMM": 15, "NORM": 5},
                   2465008.0),
    "tiny-qwen3-moe": ({"ATTENTION": 2, "ELEMENTWISE": 3, "EMBEDDING": 1, "GEMM": 11,
                        "GROUPED_GEMM": 4, "NORM": 7, "ROUTING": 4}, 1729920.0),
    "tiny-deepseek-v3": ({"ATTENTION": 3, "COPY": 6, "ELEMENTWISE": 4, "EMBEDDING": 1,
                          "GEMM": 27, "GROUPED_GEMM": 4, "NORM": 13, "ROUTING": 4},
                         3941440.0),
    "tiny-gemma3": ({"ATTENTION": 4, "ELEMENTWISE": 6, "EMBEDDING": 1, "GEMM": 29, "NORM": 17},
                    4962464.0),
    "tiny-phi3": ({"ATTENTION": 2, "COPY": 2, "ELEMENTWISE": 5, "EMBEDDING": 1, "GEMM": 9,
                   "NORM": 5}, 2465008.0),
    "tiny-gpt2": ({"ATTENTION": 2, "COPY": 2, "ELEMENTWISE": 3, "EMBEDDING": 2, "GEMM": 9,
                   "NORM": 5}, 3313680.0),
    "tiny-bert": ({"ATTENTION": 2, "COPY": 1, "ELEMENTWISE": 1, "EMBEDDING": 3, "GEMM": 14,
                   "NORM": 5}, 2225792.0),
}


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_family_lowers_to_its_golden_kernels(family):
    kinds, flops = GOLDEN[family]
    w = build_workload(tiny_trace(family, "prefill"))
    counts: dict[str, int] = {}
    for op in w.ops:
        counts[op.kind.name] = counts.get(op.kind.name, 0) + 1
    assert counts == kinds
    assert w.flops == pytest.approx(flops, rel=1e-9)
    assert all(op.kind is not OpKind.OTHER for op in w.ops)


@pytest.mark.parametrize("family", sorted(GOLDEN))
def test_every_traced_op_has_a_formula(family):
    from workloads.ops import unknown_targets

    assert unknown_targets(op.target for op in tiny_trace(family, "prefill").ops) == []
