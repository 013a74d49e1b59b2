"""Model facts: what a model is, counted from the model built on meta and read from its config.

Parameters are counted from the built model (tied embeddings once); active parameters count
the routed experts at top-k of E; the KV bytes per token are what a serving stack caches: K and
V of every layer, or the MLA latent (compressed KV plus the decoupled RoPE key).
"""

from __future__ import annotations

import re

from hwspecs.dtypes import DType
from workloads.op import ModelFacts

_EXPERT_FIELDS = ("n_routed_experts", "num_local_experts", "num_experts", "moe_num_experts")
_TOPK_FIELDS = ("num_experts_per_tok", "num_experts_per_token", "moe_topk", "top_k")
_EXPERT_LIST = re.compile(r"\.experts\.\d+\.")


def first_int(config, fields: tuple[str, ...]) -> int:
    for f in fields:
        v = getattr(config, f, None)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return 0


def expert_param_count(model, experts: int) -> int:
    """Parameters of routed experts: 3-D tensors [E, ...] or modules in an `experts` list."""
    if experts <= 0:
        return 0
    total = 0
    for name, p in model.named_parameters():
        stacked = p.dim() == 3 and p.shape[0] == experts and "shared" not in name
        if stacked or _EXPERT_LIST.search(name):
            total += p.numel()
    return total


def kv_bytes_per_token(config, layers: int, heads: int, kv_heads: int, head_dim: int,
                       dtype: DType) -> float:
    """K and V (or the MLA latent) of one token over all layers, at `dtype`."""
    latent = getattr(config, "kv_lora_rank", None)
    if isinstance(latent, int) and latent > 0:
        per_layer = latent + int(getattr(config, "qk_rope_head_dim", 0) or 0)
    else:
        v_dim = int(getattr(config, "v_head_dim", 0) or head_dim)
        per_layer = kv_heads * (head_dim + v_dim)
    # NB: sliding-window layers are counted like full ones; they keep at most `window` tokens.
    return float(layers * per_layer * dtype.bytes)


def head_dim_of(config, heads: int) -> int:
    nope = getattr(config, "qk_nope_head_dim", None)
    if isinstance(nope, int) and nope > 0:
        return nope + int(getattr(config, "qk_rope_head_dim", 0) or 0)
    hd = getattr(config, "head_dim", None)
    if isinstance(hd, int) and hd > 0:
        return hd
    return int(config.hidden_size) // heads


def model_facts_of(name: str, built, dtype: DType) -> ModelFacts:
    """Facts of a model built on meta (`model_build.BuiltModel`)."""
    from workloads.trace.model_build import layer_count

    config, model = built.config, built.model
    params = sum(p.numel() for p in model.parameters())
    experts = first_int(config, _EXPERT_FIELDS)
    top_k = first_int(config, _TOPK_FIELDS) if experts else 0
    routed = expert_param_count(model, experts)
    active = params - routed + (routed * top_k) // experts if experts else params
    heads = int(config.num_attention_heads)
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = head_dim_of(config, heads)
    layers = layer_count(config)
    return ModelFacts(
        name=name, architecture=type(model).__name__, params=params, active_params=active,
        layers=layers, hidden_size=int(config.hidden_size), heads=heads, kv_heads=kv_heads,
        head_dim=head_dim, vocab_size=int(config.vocab_size), experts=experts,
        experts_per_token=top_k,
        kv_bytes_per_token=(kv_bytes_per_token(config, layers, heads, kv_heads, head_dim, dtype)
                            if built.causal else 0.0),
        embedding_params=_embedding_params(model),
        kv_lora_rank=first_int(config, ("kv_lora_rank",)),
        qk_rope_head_dim=first_int(config, ("qk_rope_head_dim",)) if first_int(
            config, ("kv_lora_rank",)) else 0)


def _embedding_params(model) -> int:
    seen: set[int] = set()
    total = 0
    for get in ("get_input_embeddings", "get_output_embeddings"):
        mod = getattr(model, get, lambda: None)()
        w = getattr(mod, "weight", None)
        if w is not None and id(w) not in seen:
            seen.add(id(w))
            total += w.numel()
    return total
