"""`moe_fused_routing`: a traced MoE block lowers to the five kernels engines run."""

from __future__ import annotations

from tests.workloads.traced import tiny_trace
from workloads.lower.build import build_workload
from workloads.op import OpKind


def _layer(w, layer=1):
    return [op for op in w.ops if op.layer == layer]


def test_an_moe_layer_is_router_routing_two_expert_gemms_and_combine():
    w = build_workload(tiny_trace("tiny-mixtral", "prefill"))
    kinds = [op.kind for op in _layer(w)]
    i = kinds.index(OpKind.GROUPED_GEMM)
    # router GEMM, routing, up (+ activation), down, combine
    assert kinds[i - 2:i + 3] == [OpKind.GEMM, OpKind.ROUTING, OpKind.GROUPED_GEMM,
                                  OpKind.GROUPED_GEMM, OpKind.ROUTING]
    up = _layer(w)[i]
    assert "silu" in up.name


def test_switched_off_the_routing_ops_are_kernels_of_their_own_and_flops_are_kept():
    trace = tiny_trace("tiny-mixtral", "prefill")
    on, off = build_workload(trace), build_workload(trace, ["moe_fused_routing"])
    assert not any(op.kind is OpKind.ROUTING for op in off.ops)
    assert len(_layer(off)) > len(_layer(on)) + 8        # softmax, top-k, sort, histc, ...
    assert on.flops == off.flops
    # fused, the routing intermediates stay on chip: fewer bytes move
    def moved(w):
        return sum(op.total_read_bytes + op.total_write_bytes for op in _layer(w))
    assert moved(on) < moved(off)


def test_dense_models_are_untouched():
    trace = tiny_trace("tiny-llama", "prefill")
    on, off = build_workload(trace), build_workload(trace, ["moe_fused_routing"])
    assert [op.name for op in on.ops] == [op.name for op in off.ops]
