"""Model facts counted from the model built on meta, against the published parameter counts."""

from __future__ import annotations

import pytest

from hwspecs.dtypes import DType
from workloads import model_facts


@pytest.mark.parametrize("name, params", [
    ("llama-2-7b", 6.74e9), ("llama-2-70b", 6.90e10), ("mixtral-8x7b", 4.67e10),
    ("bert-base", 1.10e8), ("llama-3.1-8b", 8.03e9), ("llama-3.1-405b", 4.06e11),
    ("deepseek-v3", 6.71e11), ("qwen3-30b-a3b", 3.05e10), ("gpt2", 1.24e8),
])
def test_parameter_counts_match_the_model_cards(name, params):
    assert model_facts(name).params == pytest.approx(params, rel=0.01)


def test_moe_active_parameters_count_top_k_experts():
    mixtral = model_facts("mixtral-8x7b")      # 12.9B active (Mistral AI)
    assert mixtral.active_params == pytest.approx(1.29e10, rel=0.01)
    assert (mixtral.experts, mixtral.experts_per_token) == (8, 2)
    assert model_facts("deepseek-v3").active_params == pytest.approx(3.7e10, rel=0.02)
    assert model_facts("qwen3-30b-a3b").active_params == pytest.approx(3.3e9, rel=0.02)
    dense = model_facts("llama-2-7b")
    assert dense.active_params == dense.params and dense.experts == 0


def test_tied_embeddings_count_once():
    gpt2 = model_facts("gpt2")
    assert gpt2.embedding_params == 50257 * 768                  # wte, shared with lm_head
    llama = model_facts("llama-2-7b")
    assert llama.embedding_params == 2 * 32000 * 4096            # untied input and output


def test_shapes_and_kv_bytes_per_token():
    llama = model_facts("llama-3.1-8b")
    assert (llama.layers, llama.heads, llama.kv_heads, llama.head_dim) == (32, 32, 8, 128)
    assert llama.kv_bytes_per_token == 32 * 2 * 8 * 128 * 2      # layers, K+V, heads, dim, bf16
    assert model_facts("llama-3.1-8b", DType.FP32).kv_bytes_per_token == 2 * 131072
    ds = model_facts("deepseek-v3")                              # MLA: latent 512 + rope key 64
    assert ds.kv_bytes_per_token == 61 * (512 + 64) * 2 and ds.head_dim == 192
    assert model_facts("bert-base").kv_bytes_per_token == 0      # an encoder keeps no cache
    assert model_facts("gemma-3-12b").head_dim == 256
