"""Small configs of each model family the catalog ships (2-6 layers, hidden 64): fast traces."""

from __future__ import annotations

import json
from pathlib import Path

_COMMON = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 96, "max_position_embeddings": 512,
           "tie_word_embeddings": False}

TINY = {
    "tiny-llama": {"model_type": "llama", "architectures": ["LlamaForCausalLM"], **_COMMON,
                   "num_hidden_layers": 2},
    "tiny-mistral": {"model_type": "mistral", "architectures": ["MistralForCausalLM"], **_COMMON,
                     "num_hidden_layers": 2, "sliding_window": 16},
    "tiny-mixtral": {"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], **_COMMON,
                     "num_hidden_layers": 2, "num_local_experts": 4, "num_experts_per_tok": 2},
    "tiny-qwen2": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], **_COMMON,
                   "num_hidden_layers": 2},
    "tiny-qwen3-moe": {"model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"],
                       **_COMMON, "num_hidden_layers": 2, "head_dim": 16, "num_experts": 8,
                       "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                       "decoder_sparse_step": 1, "mlp_only_layers": []},
    "tiny-deepseek-v3": {"model_type": "deepseek_v3", "architectures": ["DeepseekV3ForCausalLM"],
                         **_COMMON, "num_key_value_heads": 4, "num_hidden_layers": 3,
                         "first_k_dense_replace": 1, "n_routed_experts": 8, "n_shared_experts": 1,
                         "num_experts_per_tok": 2, "moe_intermediate_size": 32, "n_group": 2,
                         "topk_group": 1, "kv_lora_rank": 32, "q_lora_rank": 48,
                         "qk_nope_head_dim": 16, "qk_rope_head_dim": 8, "v_head_dim": 16},
    "tiny-gemma3": {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"],
                    **_COMMON, "num_hidden_layers": 4, "head_dim": 16, "sliding_window": 8,
                    "sliding_window_pattern": 2, "query_pre_attn_scalar": 16,
                    "tie_word_embeddings": True},
    "tiny-phi3": {"model_type": "phi3", "architectures": ["Phi3ForCausalLM"], **_COMMON,
                  "num_hidden_layers": 2, "pad_token_id": 0, "eos_token_id": 1},
    "tiny-gpt2": {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 64,
                  "n_head": 4, "n_layer": 2, "n_positions": 128, "vocab_size": 96, "bos_token_id": 0,
                  "eos_token_id": 0},
    "tiny-gptj": {"model_type": "gptj", "architectures": ["GPTJForCausalLM"], "n_embd": 64,
                  "n_head": 4, "n_layer": 2, "n_positions": 64, "rotary_dim": 8,
                  "vocab_size": 96, "tie_word_embeddings": False},
    "tiny-bert": {"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 64,
                  "intermediate_size": 128, "num_attention_heads": 4, "num_hidden_layers": 2,
                  "vocab_size": 96, "max_position_embeddings": 128},
}


def write_tiny(folder: Path, name: str, **overrides) -> str:
    """Write one tiny config (with overrides) as `<folder>/<name>.json`; returns the path."""
    path = Path(folder) / f"{name}.json"
    path.write_text(json.dumps({**TINY[name], **overrides}))
    return str(path)
