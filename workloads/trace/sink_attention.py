"""Attention with sinks (gpt-oss) traced as the one fused kernel engines run.

transformers refuses SDPA for models whose attention adds a learned "sink" logit per head to
the softmax (gpt-oss): its eager path spells attention out as matmul, softmax and matmul over
the whole score matrix, which is not what serving engines run (FlashAttention-3, TRT-LLM and
FlashInfer kernels take the sinks and the sliding window inside one fused kernel). Such models
are built with an attention function registered under `NAME` that calls
`F.scaled_dot_product_attention`, so the tracer records one attention kernel per layer with
the layer's sliding window, like every other model.

NB: the sinks' work (one extra logit per head and query) is left out of the kernel's FLOPs.
"""

from __future__ import annotations

NAME = "archsim_sinks"        # no "sdpa" in it: transformers would run its SDPA checks
_registered = False


def attn_implementation(model_class) -> str:
    """"sdpa" where transformers supports it, else the sink-tolerant SDPA registered here."""
    if getattr(model_class, "_supports_sdpa", True):
        return "sdpa"
    _register()
    return NAME


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import sdpa_mask

    def sdpa_without_sinks(module, query, key, value, attention_mask, **kwargs):
        kwargs.pop("s_aux", None)
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)

    AttentionInterface.register(NAME, sdpa_without_sinks)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    _registered = True
