"""Traced FLOPs against independent counts, and the bytes of a real 7B decode step.

- torch's FlopCounterMode, run on the same model and inputs, with formulas added for the ops
  it lacks (CPU flash attention, `_grouped_mm`): the matmuls agree exactly; attention agrees
  once the causal mask's unmasked fraction (S+1)/(2S) is applied (our convention, see
  `workloads.ops.attention`; FlopCounterMode counts the full S x S).
- 2 * N_params * tokens (input embedding excluded) + attention, within 2%; training ~3x.
- Llama-2-7B bf16 decode at B=1, L=2048 reads its weights (13.5 GB) plus the KV cache
  (1.07 GB), not several times that.
"""

from __future__ import annotations

import inspect

import pytest

from tests.workloads.traced import config_path, small_llama_trace, tiny_trace
from workloads import trace_raw
from workloads.lower.build import build_workload
from workloads.op import OpKind, Pass, TensorRole

MATRIX = (OpKind.GEMM, OpKind.GROUPED_GEMM)


def _grouped_mm_flops(a, b, *args, out_shape=None, **kwargs):
    """2 FLOP per multiply-accumulate of torch._grouped_mm, whatever dimension is ragged."""
    if len(a) == 2 and len(b) == 3:          # rows split over groups: (M, K) x (G, K, N)
        return 2 * a[0] * a[1] * b[2]
    if len(a) == 2 and len(b) == 2:          # K split over groups: (M, K) x (K, N)
        return 2 * a[0] * a[1] * b[1]
    return 2 * a[0] * a[1] * a[2] * b[-1]    # (G, M, K) x (G, K, N)


def _flash_cpu_flops(q, k, v, *args, out_shape=None, **kwargs):
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(q, k, v)


def flop_counter_prefill(name: str, batch: int, seq: int) -> dict[str, int]:
    """FlopCounterMode's counts by aten op for the prefill the tracer records."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        DynamicCache,
    )

    from workloads.config import find_config, hf_config

    cfg = find_config(config_path(name))
    config = hf_config(cfg)
    causal = cfg.data["architectures"][0].endswith(("ForCausalLM", "LMHeadModel"))
    auto = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
    kwargs = {"attn_implementation": "sdpa"}
    if auto._model_mapping[type(config)]._can_set_experts_implementation():
        kwargs["experts_implementation"] = "grouped_mm"
    aten = torch.ops.aten
    counter = FlopCounterMode(display=False, custom_mapping={
        aten._scaled_dot_product_flash_attention_for_cpu: _flash_cpu_flops,
        aten._grouped_mm: _grouped_mm_flops})
    with FakeTensorMode():
        model = auto.from_config(config, dtype=torch.bfloat16, **kwargs).eval()
        call = {"input_ids": torch.randint(0, config.vocab_size, (batch, seq))}
        if causal:
            params = inspect.signature(model.forward).parameters
            call["cache" if "cache" in params else "past_key_values"] = DynamicCache(
                config=config)
            call.update(use_cache=True, logits_to_keep=1)
        with torch.no_grad(), counter:
            model(**call)
    return {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}


@pytest.mark.parametrize("name, attention_op, causal", [
    ("tiny-llama", "aten._scaled_dot_product_flash_attention_for_cpu", True),
    ("tiny-mixtral", "aten._scaled_dot_product_flash_attention_for_cpu", True),
    ("tiny-deepseek-v3", "aten.bmm", True),        # q/k and v head dims differ: SDPA math
    ("tiny-gpt2", "aten._scaled_dot_product_flash_attention_for_cpu", True),
    ("tiny-bert", "aten._scaled_dot_product_flash_attention_for_cpu", False),
])
def test_prefill_flops_match_flop_counter_mode(name, attention_op, causal):
    batch, seq = 2, 8
    counted = flop_counter_prefill(name, batch, seq)
    attention = counted.pop(attention_op)
    # (with no pass fusing pointwise ops into a GEMM's epilogue, GEMM kernels hold GEMMs only)
    w = build_workload(tiny_trace(name, "prefill", batch, seq),
                       ["fuse_elementwise", "moe_fused_routing"])
    matrix = sum(op.flops for op in w.ops if op.kind in MATRIX)
    assert matrix == pytest.approx(sum(counted.values()), rel=1e-9)
    fraction = (seq + 1) / (2 * seq) if causal else 1.0
    ours = sum(op.flops for op in w.ops if op.kind is OpKind.ATTENTION)
    assert ours == pytest.approx(attention * fraction, rel=1e-9)


def test_forward_is_2_n_tokens_plus_attention_and_training_about_3x():
    batch, seq = 1, 64
    trace = small_llama_trace("train", batch, seq)
    w = build_workload(trace)
    f = trace.facts
    tokens = batch * seq
    attention = f.layers * 4 * batch * f.heads * seq * seq * f.head_dim * (seq + 1) / (2 * seq)
    expected = 2 * (f.params - f.vocab_size * f.hidden_size) * tokens + attention
    forward = sum(op.flops for op in w.ops if op.pass_ is Pass.FORWARD)
    backward = sum(op.flops for op in w.ops if op.pass_ is Pass.BACKWARD)
    assert forward == pytest.approx(expected, rel=0.02)
    # backward: 2x the matmuls (dX and dW), 2.5x attention; AdamW's 14 FLOP per parameter
    # is apart (here 64 tokens make it 12% of forward; at thousands of tokens, <1%)
    assert (forward + backward) / forward == pytest.approx(3.0, abs=0.05)


def test_llama2_7b_decode_reads_weights_plus_cache_once():
    w = build_workload(trace_raw("llama-2-7b", "decode", 1, 1, 2048))
    f = w.model
    reads = {role: sum(op.read_bytes.get(role, 0.0) for op in w.ops) for role in TensorRole}
    weights = 2.0 * f.params                                 # bf16: 13.5 GB
    cache = 2 * f.layers * 2049 * f.kv_heads * f.head_dim * 2.0  # K and V: 1.07 GB
    assert weights == pytest.approx(13.48e9, rel=0.01)
    assert cache == pytest.approx(1.074e9, rel=0.01)
    # every weight once, but the embedding table: one row of it
    assert reads[TensorRole.WEIGHT] == pytest.approx(weights, rel=0.03)
    assert reads[TensorRole.KV_CACHE] == pytest.approx(cache, rel=1e-6)
    assert w.kv_cache_bytes == pytest.approx(cache, rel=1e-6)
    total = sum(op.total_read_bytes for op in w.ops)
    assert total == pytest.approx(weights + cache, rel=0.03)
