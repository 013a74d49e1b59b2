"""Replaying a traced model: lowered kernels to benchmark cases, and a tiny model end to end."""

from __future__ import annotations

import contextlib
import io
import json
from types import SimpleNamespace

import pytest

from archsim_cli.app import main
from hwspecs.dtypes import DType
from validation.measure.bench_shapes import Case
from validation.measure.records import read_measurements
from validation.measure.replay import case_for, plan_replay
from workloads.op import Op, OpKind, Pass, Tensor

TINY_LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
              "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
              "num_hidden_layers": 2, "vocab_size": 512, "max_position_embeddings": 256,
              "rms_norm_eps": 1e-5, "tie_word_embeddings": False}


def _op(kind: OpKind, name: str = "op", dtype: DType = DType.BF16, inputs=((8, 64),),
        outputs=((8, 64),), pass_: Pass = Pass.FORWARD, **attrs) -> Op:
    return Op(name, kind, tuple(Tensor(s, dtype) for s in inputs),
              tuple(Tensor(s, dtype) for s in outputs), 0.0, {}, {}, dtype, pass_=pass_,
              attrs=attrs)


def _attn(**overrides) -> Op:
    attrs = {"batch": 2, "heads": 8, "kv_heads": 2, "q_len": 16, "kv_len": 16, "head_dim": 64,
             "v_head_dim": 64, "causal": True, "sliding_window": None, **overrides}
    return _op(OpKind.ATTENTION, "sdpa_flash_attention", **attrs)


def test_gemms_replay_as_mm_or_bmm_in_either_pass():
    assert case_for(_op(OpKind.GEMM, m=8, n=32, k=64, batch=1)) == Case(
        "gemm", "mm", "bf16", m=8, n=32, k=64, batch=1)
    back = case_for(_op(OpKind.GEMM, pass_=Pass.BACKWARD, m=8, n=32, k=64, batch=4))
    assert back.op == "bmm" and back.batch == 4
    grouped = case_for(_op(OpKind.GROUPED_GEMM, groups=8, m=4, n=1024, k=256))
    assert (grouped.op, grouped.groups, grouped.m) == ("grouped_mm", 8, 4)


def test_attention_replays_only_what_sdpa_can_run():
    prefill = case_for(_attn())
    assert prefill.op == "sdpa_prefill" and prefill.causal and prefill.kv_heads == 2
    decode = case_for(_attn(q_len=1, kv_len=65))
    assert decode.op == "sdpa_decode" and decode.kv_len == 65
    assert case_for(_attn(q_len=16, kv_len=64)) == "causal with 1 < q_len != kv_len"
    assert case_for(_attn(v_head_dim=128)).startswith("value head size")
    assert case_for(_attn(sliding_window=8)) == "sliding window"
    assert case_for(_attn(kv_heads=3)).startswith("query heads")
    backward = _op(OpKind.ATTENTION, pass_=Pass.BACKWARD, **_attn().attrs)
    assert case_for(backward) == "backward pass"


def test_rowwise_pointwise_and_memory_kernels():
    layer = case_for(_op(OpKind.NORM, "add+native_layer_norm", inputs=((2, 8, 64), (64,))))
    assert (layer.op, layer.rows, layer.cols) == ("layer_norm", 16, 64)
    rms = case_for(_op(OpKind.NORM, "pow+mean+add+rsqrt+mul", DType.FP32))
    assert (rms.op, rms.dtype) == ("rms_norm", "fp32")
    chain = case_for(_op(OpKind.ELEMENTWISE, "mul+silu", outputs=((4, 100),),
                         pass_=Pass.BACKWARD))
    assert (chain.op, chain.numel) == ("add", 400)
    emb = _op(OpKind.EMBEDDING, "embedding", inputs=((1000, 64),), rows=12, row_bytes=128.0,
              table_rows=1000)
    assert case_for(emb) == Case("embedding", "embedding", "bf16", rows=12, cols=64,
                                 vocab=1000)
    assert case_for(_op(OpKind.ELEMENTWISE, dtype=DType.INT64)) == "dtype int64"
    assert case_for(_op(OpKind.OPTIMIZER)) == "no benchmark for this kernel kind"


def test_a_plan_counts_each_distinct_kernel_once():
    ops = [_op(OpKind.GEMM, m=8, n=32, k=64, batch=1)] * 3 + [
        _op(OpKind.VIEW), _op(OpKind.OPTIMIZER), _attn(), _attn()]
    plan = plan_replay(SimpleNamespace(ops=ops))
    assert sorted(plan.counts.values()) == [2, 3]
    assert plan.unreplayed == {"optimizer: no benchmark for this kernel kind": 1}


def _replay(tmp_path, *args: str) -> dict:
    config = tmp_path / "tiny-llama.json"
    config.write_text(json.dumps(TINY_LLAMA))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["bench", "--replay", str(config), "--quick", "--no-progress", "--json",
                   "--out", str(tmp_path / "out"), *args])
    assert rc == 0
    return json.loads(out.getvalue())


@pytest.mark.parametrize("args", [("--seq", "16"), ("--phase", "decode", "--context", "24"),
                                  ("--phase", "train", "--seq", "16")])
def test_tiny_llama_replays_and_times_its_step(tmp_path, args):
    result = _replay(tmp_path, *args)
    m = read_measurements(result["csv_path"])
    replay = m.meta["replay"]
    assert replay["dtype"] == "fp32" and replay["step"]["median_s"] > 0
    assert replay["model"] == "tiny-llama.json"   # a path outside the repository: its name
    assert int(m.frame["count"].sum()) == replay["replayed_kernels"] > 0
    assert replay["replayed_kernels"] + sum(replay["unreplayed"].values()) <= replay["kernels"]
    assert not any(k.startswith(("gemm", "attention: no")) for k in replay["unreplayed"])
    assert {"gemm", "attention", "norm", "embedding"} <= set(m.frame["kernel"])
    attention = m.frame[m.frame["kernel"] == "attention"]
    if replay["phase"] == "decode":
        assert set(attention["kv_len"]) == {25} and set(attention["q_len"]) == {1}
    assert replay["replayed_sum_s"] == pytest.approx(
        float((m.frame["median_s"] * m.frame["count"]).sum()))
