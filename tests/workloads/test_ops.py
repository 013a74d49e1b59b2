"""Per-op formulas on hand-built ops: FLOPs and bytes worked by hand in the comments."""

from __future__ import annotations

import pytest

from hwspecs.dtypes import DType
from workloads.op import OpKind, Pass, Tensor, TensorRole
from workloads.ops import formula_for, register, unknown_targets, work_of
from workloads.ops.attention import visible_fraction
from workloads.ops.work import Fuse
from workloads.raw import RawOp

BF16, FP32 = DType.BF16, DType.FP32
W = TensorRole.WEIGHT


def raw(target, ins, outs, args=(), attrs=None, pass_=Pass.FORWARD):
    ins = tuple(t if isinstance(t, Tensor) else Tensor(t, BF16) for t in ins)
    outs = tuple(t if isinstance(t, Tensor) else Tensor(t, BF16) for t in outs)
    return RawOp(target, ins, outs, tuple(range(len(ins))),
                 tuple(range(100, 100 + len(outs))), args, attrs=attrs or {}, pass_=pass_)


def test_mm_is_2mnk_and_reads_operands_once():
    # (4096 x 4096) @ (4096 x 4096) bf16: 2 * 4096^3 FLOP; 3 matrices of 32 MiB each
    op = raw("aten.mm.default", [(4096, 4096), Tensor((4096, 4096), BF16, W)], [(4096, 4096)])
    w = work_of(op)
    assert formula_for(op.target).kind is OpKind.GEMM
    assert w.flops == 2 * 4096 ** 3
    assert w.in_bytes == (4096 * 4096 * 2, 4096 * 4096 * 2)
    assert w.out_bytes == (4096 * 4096 * 2,)
    assert dict(w.attrs) == {"m": 4096, "n": 4096, "k": 4096, "batch": 1}


def test_addmm_bmm_baddbmm_linear_shapes():
    assert work_of(raw("aten.addmm.default", [(96,), (8, 64), (64, 96)], [(8, 96)])).flops \
        == 2 * 8 * 96 * 64
    w = work_of(raw("aten.bmm.default", [(6, 8, 16), (6, 16, 32)], [(6, 8, 32)]))
    assert w.flops == 2 * 6 * 8 * 32 * 16 and w.attrs["batch"] == 6
    assert work_of(raw("aten.baddbmm.default", [(6, 8, 32), (6, 8, 16), (6, 16, 32)],
                       [(6, 8, 32)])).flops == 2 * 6 * 8 * 32 * 16
    # linear: x (2, 5, 64) with weight (96, 64): M = 10 rows
    w = work_of(raw("aten.linear.default", [(2, 5, 64), (96, 64)], [(2, 5, 96)]))
    assert (w.attrs["m"], w.attrs["n"], w.attrs["k"]) == (10, 96, 64)


def test_grouped_mm_forward_and_weight_gradient():
    # forward: 32 routed rows x 64 through 4 experts of (64 x 256): 2 * 32 * 256 * 64
    fwd = raw("aten._grouped_mm.default",
              [(32, 64), Tensor((4, 64, 256), BF16, W), Tensor((4,), DType.INT32)], [(32, 256)])
    w = work_of(fwd)
    assert formula_for(fwd.target).kind is OpKind.GROUPED_GEMM
    assert w.flops == 2 * 32 * 256 * 64
    assert (w.attrs["groups"], w.attrs["m"], w.attrs["routed_rows"]) == (4, 32, 32)
    # weight gradient: (64 x 32) @ (32 x 128) split over 4 groups along K = 32 rows
    grad = raw("aten._grouped_mm.default", [(64, 32), (32, 128), Tensor((4,), DType.INT32)],
               [(4, 64, 128)])
    w = work_of(grad)
    assert w.flops == 2 * 64 * 128 * 32 and w.attrs["routed_rows"] == 32


@pytest.mark.parametrize("q, kv, expect", [(8, 8, 9 / 16), (1, 2049, 1.0), (1, 1, 1.0),
                                           (4, 8, (5 + 6 + 7 + 8) / 32)])
def test_causal_fraction_is_bottom_right_aligned(q, kv, expect):
    assert visible_fraction(q, kv, True) == pytest.approx(expect)
    assert visible_fraction(q, kv, False) == 1.0


def test_sliding_window_caps_each_query():
    # 6 queries over 6 keys, window 3: 1, 2, 3, 3, 3, 3 keys seen of 36
    assert visible_fraction(6, 6, True, 3) == pytest.approx(15 / 36)
    assert visible_fraction(6, 6, True, 100) == pytest.approx(21 / 36)


def test_flash_attention_forward_and_backward_flops():
    # GQA 8 query heads over 2 KV heads, causal prefill of 16 tokens, head dim 32:
    # 4 * B*H*q*kv*d * (S+1)/(2S) = 4 * 2*8*16*16*32 * 17/32; backward 2.5x
    q, k = Tensor((2, 8, 16, 32), BF16), Tensor((2, 2, 16, 32), BF16)
    fwd = raw("aten._scaled_dot_product_flash_attention_for_cpu.default", [q, k, k],
              [(2, 8, 16, 32), Tensor((2, 8, 16), FP32)], args=(0.0, True))
    w = work_of(fwd)
    expect = 4 * 2 * 8 * 16 * 16 * 32 * 17 / 32
    assert w.flops == pytest.approx(expect)
    assert (w.attrs["heads"], w.attrs["kv_heads"], w.attrs["causal"]) == (8, 2, True)
    assert w.in_bytes == (2 * 8 * 16 * 32 * 2, 2 * 2 * 16 * 32 * 2, 2 * 2 * 16 * 32 * 2)
    bwd = raw("aten._scaled_dot_product_flash_attention_for_cpu_backward.default",
              [(2, 8, 16, 32), q, k, k, (2, 8, 16, 32), Tensor((2, 8, 16), FP32)],
              [(2, 8, 16, 32), (2, 2, 16, 32), (2, 2, 16, 32)], args=(0.0, True),
              pass_=Pass.BACKWARD)
    assert work_of(bwd).flops == pytest.approx(2.5 * expect)


def test_attention_uses_tracer_causal_flag_and_decode_is_unmasked():
    q, k = Tensor((1, 4, 1, 16), BF16), Tensor((1, 4, 9, 16), BF16)
    op = raw("aten._scaled_dot_product_flash_attention_for_cpu.default", [q, k, k],
             [(1, 4, 1, 16), Tensor((1, 4, 1), FP32)], attrs={"causal": False})
    assert work_of(op).flops == 4 * 4 * 1 * 9 * 16


def test_pointwise_cast_and_views():
    mul = work_of(raw("aten.mul.Tensor", [(4, 8), (8,)], [(4, 8)]))
    assert mul.flops == 32 and mul.in_bytes == (64, 16) and mul.out_bytes == (64,)
    cast = raw("aten._to_copy.default", [(4, 8)], [Tensor((4, 8), FP32)])
    w = work_of(cast)
    assert w.flops == 0 and w.in_bytes == (64,) and w.out_bytes == (128,)
    assert w.compute_dtype is FP32 and formula_for(cast.target).fuse is Fuse.POINTWISE
    view = raw("aten.view.default", [(4, 8)], [(32,)])
    assert formula_for(view.target).kind is OpKind.VIEW
    assert work_of(view).in_bytes == (0.0,)


def test_norm_softmax_and_reductions_per_element():
    ln = work_of(raw("aten.native_layer_norm.default", [(2, 8, 64), (64,), (64,)],
                     [(2, 8, 64), Tensor((2, 8, 1), FP32), Tensor((2, 8, 1), FP32)]))
    assert ln.flops == 7 * 2 * 8 * 64
    sm = raw("aten._softmax.default", [(2, 4, 8, 8)], [(2, 4, 8, 8)])
    assert work_of(sm).flops == 5 * 512 and formula_for(sm.target).kind is OpKind.SOFTMAX
    assert work_of(raw("aten.mean.dim", [(2, 8, 64)], [(2, 8, 1)])).flops == 1024
    assert formula_for("aten.max.other").kind is OpKind.ELEMENTWISE
    assert formula_for("aten.max.dim").kind is OpKind.REDUCTION


def test_embedding_attrs_and_table_read_as_traced():
    table = Tensor((1000, 64), BF16, W)
    op = raw("aten.embedding.default", [table, Tensor((2, 8), DType.INT64)], [(2, 8, 64)])
    w = work_of(op)
    assert w.attrs["rows"] == 16 and w.attrs["row_bytes"] == 128
    assert w.in_bytes[0] == 1000 * 64 * 2          # the pass, not the formula, gathers rows


def test_fused_adamw_reads_four_writes_three():
    # one parameter of 1000 bf16 elements: reads p, g, m, v (and the step); writes p, m, v
    p = Tensor((1000,), BF16, W)
    g = Tensor((1000,), BF16, TensorRole.GRADIENT)
    s = Tensor((1000,), BF16, TensorRole.OPTIMIZER_STATE)
    step = Tensor((), FP32, TensorRole.OPTIMIZER_STATE)
    op = raw("aten._fused_adamw_.default", [p, g, s, s, step], [])
    w = work_of(op)
    assert w.flops == 14 * 1000
    assert sum(w.in_bytes) == 4 * 2000 + 4
    assert sum(w.mutated_bytes) == 3 * 2000 + 4
    assert formula_for(op.target).kind is OpKind.OPTIMIZER


def test_gather_reads_picked_rows_and_inplace_scatter_writes_touched_rows():
    src = Tensor((1000, 64), BF16)
    w = work_of(raw("aten.index.Tensor", [src, Tensor((4,), DType.INT64)], [(4, 64)]))
    assert w.in_bytes[0] == 4 * 64 * 2
    w = work_of(raw("aten.index_put_.default", [(1000, 64), Tensor((4,), DType.INT64),
                                                (4, 64)], [(1000, 64)]))
    assert w.in_bytes[0] == 0 and w.out_bytes[0] == 4 * 8 + 4 * 64 * 2


def test_unknown_targets_fall_back_and_are_listed():
    assert unknown_targets(["aten.mm.default", "aten.not_an_op.default"]) == [
        "aten.not_an_op.default"]
    assert formula_for("aten.not_an_op.default").kind is OpKind.OTHER


def test_registering_a_key_twice_raises():
    with pytest.raises(ValueError, match="registered twice"):
        register("aten.mm", kind=OpKind.GEMM)(lambda op: None)
