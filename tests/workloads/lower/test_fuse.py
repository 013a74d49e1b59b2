"""Lowering passes on hand-built traces: each pass on and off, bytes worked by hand."""

from __future__ import annotations

import networkx as nx
import pytest

from hwspecs.dtypes import DType
from workloads.lower.build import build_workload
from workloads.lower.fuse import PASS_NAMES, check_passes
from workloads.lower.rewrites import expected_active
from workloads.op import ModelFacts, OpKind, Pass, Phase, Tensor, TensorRole
from workloads.raw import RawOp
from workloads.trace.front import RawTrace

BF16, FP32, I64 = DType.BF16, DType.FP32, DType.INT64
W, KV, ACT = TensorRole.WEIGHT, TensorRole.KV_CACHE, TensorRole.ACTIVATION
FACTS = ModelFacts(name="hand", architecture="HandForCausalLM", params=0, active_params=0,
                   layers=1, hidden_size=64, heads=4, kv_heads=4, head_dim=16, vocab_size=1000,
                   experts=8, experts_per_token=2)


class Trace:
    """Builds a raw trace op by op; tensors are (id, Tensor)."""

    def __init__(self):
        self.ops: list[RawOp] = []
        self.next_id = 0

    def t(self, shape, dtype=BF16, role=ACT):
        self.next_id += 1
        return self.next_id, Tensor(tuple(shape), dtype, role)

    def op(self, target, ins, outs, args=(), module="m", pass_=Pass.FORWARD, **attrs):
        self.ops.append(RawOp(target, tuple(t for _, t in ins), tuple(t for _, t in outs),
                              tuple(i for i, _ in ins), tuple(i for i, _ in outs), args,
                              module=module, layer=0, pass_=pass_, attrs=attrs))
        return outs[0] if outs else None

    def workload(self, disabled=(), phase=Phase.PREFILL):
        trace = RawTrace(FACTS, phase, 1, 8, 0, BF16, tuple(self.ops))
        return build_workload(trace, disabled)


def _mm_view_add():
    """x @ w (8x64 @ 64x64), a view, then + residual: the GEMM epilogue case."""
    tr = Trace()
    x, w, res = tr.t((8, 64)), tr.t((64, 64), role=W), tr.t((1, 8, 64))
    y = tr.op("aten.mm.default", [x, w], [tr.t((8, 64))], module="m.proj")
    v = tr.op("aten.view.default", [y], [tr.t((1, 8, 64))], args=((1, 8, 64),))
    tr.op("aten.add.Tensor", [res, v], [tr.t((1, 8, 64))], module="m")
    return tr


def test_views_vanish_and_come_back_when_disabled():
    on = _mm_view_add().workload(disabled=["fuse_elementwise"])
    assert [o.kind for o in on.ops] == [OpKind.GEMM, OpKind.ELEMENTWISE]
    off = _mm_view_add().workload(disabled=["fuse_elementwise", "views"])
    assert [o.kind for o in off.ops] == [OpKind.GEMM, OpKind.VIEW, OpKind.ELEMENTWISE]
    assert off.ops[1].total_read_bytes == 0 and off.ops[1].total_write_bytes == 0


def test_gemm_epilogue_keeps_the_product_on_chip():
    # fused: read x (1 KiB), w (8 KiB), residual (1 KiB); write the sum (1 KiB) only
    fused = _mm_view_add().workload()
    assert len(fused.ops) == 1 and fused.ops[0].kind is OpKind.GEMM
    op = fused.ops[0]
    assert op.read_bytes == {ACT: 2048.0, W: 8192.0}
    assert op.write_bytes == {ACT: 1024.0}
    assert op.flops == 2 * 8 * 64 * 64 + 8 * 64
    # unfused: the product is written by the GEMM and read back by the add (+2 KiB)
    split = _mm_view_add().workload(disabled=["fuse_elementwise"])
    moved = sum(o.total_read_bytes + o.total_write_bytes for o in split.ops)
    assert moved == 2048 + 8192 + 1024 + 2 * 1024


def _rms_norm(tr, x, weight, module="m.layers.0.input_layernorm"):
    """transformers' RMSNorm as traced: cast up, square, mean, +eps, rsqrt, scale, cast, *w."""
    xf = tr.op("aten._to_copy.default", [x], [tr.t(x[1].shape, FP32)], module=module)
    sq = tr.op("aten.pow.Tensor_Scalar", [xf], [tr.t(x[1].shape, FP32)], (2,), module=module)
    ms = tr.op("aten.mean.dim", [sq], [tr.t((8, 1), FP32)], ((-1,), True), module=module)
    ep = tr.op("aten.add.Tensor", [ms], [tr.t((8, 1), FP32)], (1e-6,), module=module)
    rs = tr.op("aten.rsqrt.default", [ep], [tr.t((8, 1), FP32)], module=module)
    nx_ = tr.op("aten.mul.Tensor", [xf, rs], [tr.t(x[1].shape, FP32)], module=module)
    nb = tr.op("aten._to_copy.default", [nx_], [tr.t(x[1].shape)], module=module)
    return tr.op("aten.mul.Tensor", [weight, nb], [tr.t(x[1].shape)], module=module)


def test_rms_norm_chain_is_one_norm_kernel():
    tr = Trace()
    x, w = tr.t((8, 64)), tr.t((64,), role=W)
    _rms_norm(tr, x, w)
    fused = tr.workload()
    assert [o.kind for o in fused.ops] == [OpKind.NORM]
    op = fused.ops[0]
    # reads x (8*64*2) and the weight (64*2) once; writes the bf16 result once
    assert op.read_bytes == {ACT: 1024.0, W: 128.0}
    assert op.write_bytes == {ACT: 1024.0}
    assert op.compute_dtype is FP32
    split = tr.workload(disabled=["fuse_elementwise"])
    assert len(split.ops) == 8
    assert sum(o.total_write_bytes for o in split.ops) > 4 * op.total_write_bytes


def _cache_update(tr, past):
    """DynamicCache.update: cat(old cache, new K) along the sequence."""
    new = tr.t((1, 4, 1, 16))
    return tr.op("aten.cat.default", [past, new], [tr.t((1, 4, past[1].shape[2] + 1, 16),
                                                        role=KV)], (-2,), cache_update=True)


def test_kv_cache_update_writes_only_the_new_token():
    tr = Trace()
    past = tr.t((1, 4, 2048, 16), role=KV)
    _cache_update(tr, past)
    on = tr.workload(disabled=["fuse_elementwise"])
    assert on.ops[0].read_bytes == {ACT: 4 * 16 * 2}
    assert on.ops[0].write_bytes == {KV: 4 * 16 * 2}
    off = tr.workload(disabled=["fuse_elementwise", "kv_cache_in_place"])
    assert off.ops[0].read_bytes == {KV: 4 * 2048 * 16 * 2, ACT: 4 * 16 * 2}
    assert off.ops[0].write_bytes == {KV: 4 * 2049 * 16 * 2}
    assert on.kv_cache_bytes == off.kv_cache_bytes == 4 * 2049 * 16 * 2


def test_embedding_reads_gathered_rows_not_the_table():
    tr = Trace()
    tr.op("aten.embedding.default", [tr.t((1000, 64), role=W), tr.t((1, 8), I64, TensorRole.INDEX)],
          [tr.t((1, 8, 64))])
    assert tr.workload().ops[0].read_bytes[W] == 8 * 64 * 2
    assert tr.workload(disabled=["embedding_gather"]).ops[0].read_bytes[W] == 1000 * 64 * 2


@pytest.mark.parametrize("rows, active", [(2, 2.0), (4, 8 * (1 - 0.75 ** 2)), (20000, 8.0)])
def test_moe_reads_expected_distinct_experts(rows, active):
    # rows = T tokens x k=2 choices; E=8: E*(1-(1-k/E)^T) experts' weights are read
    tr = Trace()
    weight = tr.t((8, 64, 128), role=W)
    tr.op("aten._grouped_mm.default", [tr.t((rows, 64)), weight, tr.t((8,), DType.INT32)],
          [tr.t((rows, 128))])
    op = tr.workload().ops[0]
    assert op.attrs["active_groups"] == pytest.approx(active)
    assert op.read_bytes[W] == pytest.approx(8 * 64 * 128 * 2 * active / 8)
    full = tr.workload(disabled=["moe_expected_experts"]).ops[0]
    assert full.read_bytes[W] == 8 * 64 * 128 * 2
    assert expected_active(8, 2, 1) == pytest.approx(2.0)


ATTN = {"attention": True, "causal": True, "batch": 1, "heads": 4, "kv_heads": 4, "q_len": 8,
        "kv_len": 8, "head_dim": 16, "v_head_dim": 16, "sliding_window": None, "sdpa_call": 0}


def test_unfused_attention_math_becomes_one_flash_kernel():
    """SDPA's math path (bmm, mask, softmax, bmm) inside one call is one flash kernel."""
    tr = Trace()
    q, k, v = tr.t((4, 8, 16)), tr.t((4, 16, 8)), tr.t((4, 8, 16))
    s = tr.op("aten.bmm.default", [q, k], [tr.t((4, 8, 8), FP32)], **ATTN)
    p = tr.op("aten._safe_softmax.default", [s], [tr.t((4, 8, 8), FP32)], (-1,), **ATTN)
    tr.op("aten.bmm.default", [p, v], [tr.t((4, 8, 16))], **ATTN)
    flash = tr.workload()
    assert [o.kind for o in flash.ops] == [OpKind.ATTENTION]
    # 4 * B*H*q*kv*d * (S+1)/(2S) = 4 * 4*8*8*16 * 9/16
    assert flash.ops[0].flops == pytest.approx(4 * 4 * 8 * 8 * 16 * 9 / 16)
    assert flash.ops[0].read_bytes == {ACT: 3 * 4 * 8 * 16 * 2}
    math = tr.workload(disabled=["flash_attention"])
    assert [o.kind for o in math.ops] == [OpKind.GEMM, OpKind.SOFTMAX, OpKind.GEMM]


def test_attention_backward_math_is_one_flash_backward_kernel():
    """Forward and backward math of one attention call: two flash kernels; training keeps
    Q, K, V, O and the log-sum-exp for backward, never the probabilities."""
    tr = Trace()
    x = tr.t((4, 8, 16))
    q, v = (tr.op("aten.mul.Tensor", [x, x], [tr.t((4, 8, 16))]) for _ in range(2))
    k = tr.op("aten.mul.Tensor", [x, x], [tr.t((4, 16, 8))])
    s = tr.op("aten.bmm.default", [q, k], [tr.t((4, 8, 8), FP32)], **ATTN)
    p = tr.op("aten._softmax.default", [s], [tr.t((4, 8, 8), FP32)], (-1, False), **ATTN)
    o = tr.op("aten.bmm.default", [p, v], [tr.t((4, 8, 16))], **ATTN)
    out = tr.op("aten.mul.Tensor", [o, o], [tr.t((4, 8, 16))])
    back = {"pass_": Pass.BACKWARD, **ATTN}
    d_out = tr.op("aten.mul.Tensor", [out, o], [tr.t((4, 8, 16))], pass_=Pass.BACKWARD)
    d_p = tr.op("aten.bmm.default", [d_out, v], [tr.t((4, 8, 8), FP32)], **back)
    tr.op("aten.bmm.default", [p, d_out], [tr.t((4, 8, 16))], **back)
    d_s = tr.op("aten._softmax_backward_data.default", [d_p, p], [tr.t((4, 8, 8), FP32)],
                (-1, "fp32"), **back)
    tr.op("aten.bmm.default", [d_s, k], [tr.t((4, 8, 16))], **back)
    tr.op("aten.bmm.default", [d_s, q], [tr.t((4, 16, 8))], **back)
    w = tr.workload(phase=Phase.TRAIN)
    attention = [o for o in w.ops if o.kind is OpKind.ATTENTION]
    assert [a.pass_ for a in attention] == [Pass.FORWARD, Pass.BACKWARD]
    forward = 4 * 4 * 8 * 8 * 16 * 9 / 16
    assert attention[1].flops == pytest.approx(2.5 * forward)
    # kept for backward: what the backward mul reads (O and O*O) and, for the flash backward,
    # Q, K, V: 5 tensors of 4*8*16 bf16, and the log-sum-exp (4 heads x 8 fp32); never P
    assert w.saved_activation_bytes == 5 * 4 * 8 * 16 * 2 + 4 * 8 * 4


def test_flash_attention_off_materializes_the_scores():
    tr = Trace()
    q, k = tr.t((1, 4, 8, 16)), tr.t((1, 4, 8, 16))
    tr.op("aten._scaled_dot_product_flash_attention_for_cpu.default", [q, k, k],
          [tr.t((1, 4, 8, 16)), tr.t((1, 4, 8), FP32)], (0.0, True))
    flash = tr.workload()
    assert len(flash.ops) == 1
    math = tr.workload(disabled=["flash_attention"])
    assert [o.name for o in math.ops] == ["attn_scores", "attn_softmax", "attn_values"]
    scores = 4 * 8 * 8 * 2
    assert math.ops[0].write_bytes[ACT] == scores
    assert math.ops[1].read_bytes[ACT] == scores
    # the math runs over every score: 4*B*H*q*kv*d, no causal saving
    assert sum(o.flops for o in math.ops if o.kind is OpKind.GEMM) == 4 * 4 * 8 * 8 * 16
    assert nx.is_directed_acyclic_graph(math.graph)
    assert list(nx.topological_sort(math.graph)) == [0, 1, 2]


def test_a_broadcast_view_is_read_at_its_base_size():
    # MLA's shared rotary key (1 head) expanded to 128 heads and copied: 1 head is read
    tr = Trace()
    k_pe = tr.t((1, 1, 16, 64), role=KV)
    wide = tr.op("aten.expand.default", [k_pe], [tr.t((1, 128, 16, 64), role=KV)])
    tr.op("aten.clone.default", [wide], [tr.t((1, 128, 16, 64))])
    op = tr.workload().ops[0]
    assert op.read_bytes == {KV: 16 * 64 * 2}
    assert op.write_bytes == {ACT: 128 * 16 * 64 * 2}


def test_graph_follows_tensors_through_views():
    w = _mm_view_add().workload(disabled=["fuse_elementwise"])
    assert list(w.graph.edges) == [(0, 1)]
    assert w.passes == tuple(n for n in PASS_NAMES if n != "fuse_elementwise")


def test_a_reshaped_trace_reuses_the_structure_with_its_own_shapes():
    a = _rms_norm_trace(8)
    b = _rms_norm_trace(16)
    assert a.graph is b.graph                       # same structure, one shared (frozen) graph
    assert b.ops[0].total_read_bytes == 2 * a.ops[0].total_read_bytes - 128
    with pytest.raises(nx.NetworkXError):
        a.graph.add_edge(0, 5)


def _rms_norm_trace(rows):
    tr = Trace()
    x, w = tr.t((rows, 64)), tr.t((64,), role=W)
    xf = tr.op("aten._to_copy.default", [x], [tr.t((rows, 64), FP32)])
    tr.op("aten.mul.Tensor", [w, xf], [tr.t((rows, 64))])
    return tr.workload()


def test_unknown_pass_names_are_one_clear_error():
    with pytest.raises(ValueError, match="unknown lowering pass 'view'; did you mean views"):
        check_passes(["view"])
    assert check_passes("views") == frozenset({"views"})
