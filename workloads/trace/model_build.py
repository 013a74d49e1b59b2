"""Building a model from its config: on `meta` to count and inspect, then fake CPU tensors to run.

The full model is built on the meta device with weight init switched off (fast, no memory); its
parameters give the model facts and its layers' structure gives the layer pattern. Only the
modules a trace runs get fake CPU twins of their parameters (`trace_phases.PhaseRunner`; never
plain meta to run: SDPA on meta decomposes into fp32 math and expands GQA heads).

Imports torch and transformers at module level: only the tracer imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hwspecs.dtypes import DType
from workloads.config import ModelConfig, hf_config
from workloads.trace.sink_attention import attn_implementation

_TORCH = {DType.BF16: torch.bfloat16, DType.FP16: torch.float16, DType.FP32: torch.float32,
          DType.FP64: torch.float64}

# Config fields naming the layer count, in the order transformers families use them.
_LAYER_FIELDS = ("num_hidden_layers", "n_layer", "num_layers")


@dataclass
class BuiltModel:
    """A model on meta, with what the tracer needs to know about it."""

    model: torch.nn.Module
    config: object                 # the transformers config
    causal: bool                   # causal LM (else encoder, traced as sequence classification)
    stack_path: str                # path of the repeated layer ModuleList, e.g. "model.layers"
    stack: torch.nn.ModuleList


def torch_dtype(dtype: DType) -> torch.dtype:
    try:
        return _TORCH[dtype]
    except KeyError:
        known = ", ".join(d.value for d in _TORCH)
        raise ValueError(f"cannot trace at dtype {dtype.value}; trace at one of {known} and "
                         "let the simulator rescale bytes") from None


def is_causal_lm(cfg: ModelConfig) -> bool:
    """Causal LM or encoder, from `architectures` or else from what transformers maps it to."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    archs = cfg.data.get("architectures") or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        return True
    if archs or cfg.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return False
    if cfg.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return True
    raise ValueError(f"{cfg.source}: model_type {cfg.model_type!r} is neither a causal LM nor an "
                     "encoder transformers can build")


def build_meta(cfg: ModelConfig, dtype: DType) -> BuiltModel:
    """The whole model on the meta device, weight init skipped, SDPA attention."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification
    from transformers.initialization import no_init_weights

    config = hf_config(cfg)
    causal = is_causal_lm(cfg)
    auto = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
    try:
        cls = auto._model_mapping[type(config)]
    except KeyError:
        raise ValueError(f"{cfg.source}: transformers has no "
                         f"{'causal LM' if causal else 'sequence classification'} model for "
                         f"model_type {cfg.model_type!r}") from None
    kwargs = {"attn_implementation": attn_implementation(cls)}   # gpt-oss: sink_attention
    if cls._can_set_experts_implementation():
        # NB: the eager expert loop calls `nonzero`, which fake tensors cannot answer.
        kwargs["experts_implementation"] = "grouped_mm"
    with torch.device("meta"), no_init_weights():
        model = cls._from_config(config, dtype=torch_dtype(dtype), **kwargs)
        model.tie_weights()  # skipping init skips the tying too
    path, stack = find_layer_stack(model, layer_count(config))
    return BuiltModel(model, model.config, causal, path, stack)


def layer_count(config) -> int:
    for f in _LAYER_FIELDS:
        n = getattr(config, f, None)
        if isinstance(n, int) and n > 0:
            return n
    raise ValueError(f"config of {config.model_type!r} names no layer count "
                     f"(one of {', '.join(_LAYER_FIELDS)})")


def find_layer_stack(model: torch.nn.Module, layers: int) -> tuple[str, torch.nn.ModuleList]:
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) == layers:
            return name, mod
    raise ValueError(f"{type(model).__name__} has no list of {layers} layers to trace")
