"""Checking a config.json's fields before transformers fills the gaps with its defaults.

transformers gives every field it is not told a default, so a config without `hidden_size`
(or with `hidden_sise`) builds a model of another size without a word. Here:

- `check_values(data, source)` (plain JSON, no transformers): the shape fields a config
  gives are whole numbers of at least 1, heads divide the hidden size, KV heads divide heads.
- `check_fields(data, source, config_class)`: every shape field the architecture's config
  class would otherwise default is given, an unknown key close to a missing one is named
  ("did you mean hidden_size?"), and `architectures` names a causal LM for a decoder.
- `config_errors(source)`: errors raised inside transformers while building or tracing
  (huggingface_hub's strict-dataclass errors are plain `Exception`s) become one `ConfigError`
  sentence naming the config.
- `shape_of(data)`: layers, heads, KV heads and experts as the config names them, to check a
  parallel plan before anything is traced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

from hwspecs.errors import ArchsimError, ConfigError

# The fields that set a model's shape, by their standard name, with the names families use.
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "vocab_size": ("vocab_size",),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "n_layers", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads", "num_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim"),
    "head_dim": ("head_dim",),
}
# Mixture-of-experts and latent-attention fields: required where the class defaults them.
OTHER_SHAPE_FIELDS = ("num_local_experts", "num_experts", "n_routed_experts",
                      "num_experts_per_tok", "moe_intermediate_size", "n_shared_experts",
                      "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim",
                      "v_head_dim")
_AT_LEAST_ONE = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "intermediate_size", "head_dim")
_WHOLE = (*_AT_LEAST_ONE, *OTHER_SHAPE_FIELDS)
_TYPO_CUTOFF = 0.8


def _given(data: Mapping[str, Any], canonical: str) -> tuple[str, Any] | None:
    for name in SHAPE_FIELDS.get(canonical, (canonical,)):
        if name in data and data[name] is not None:
            return name, data[name]
    return None


def check_values(data: Mapping[str, Any], source: str) -> None:
    """Shape fields that are given: whole numbers, at least 1, dividing each other."""
    for canonical in _WHOLE:
        for name in SHAPE_FIELDS.get(canonical, (canonical,)):
            value = data.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{source}: field '{name}' must be a whole number, not "
                                  f"{_short(value)}")
            low = 1 if canonical in _AT_LEAST_ONE else 0
            if value < low:
                raise ConfigError(f"{source}: field '{name}' must be at least {low}, not "
                                  f"{value}")
    hidden, heads = _given(data, "hidden_size"), _given(data, "num_attention_heads")
    kv = _given(data, "num_key_value_heads")
    if hidden and heads and not _given(data, "head_dim") and hidden[1] % heads[1]:
        raise ConfigError(f"{source}: field '{heads[0]}' ({heads[1]}) does not divide field "
                          f"'{hidden[0]}' ({hidden[1]}); give head_dim if the heads are not "
                          "hidden_size / heads wide")
    if heads and kv and heads[1] % kv[1]:
        raise ConfigError(f"{source}: field '{kv[0]}' ({kv[1]}) does not divide field "
                          f"'{heads[0]}' ({heads[1]}): each KV head serves a whole group of "
                          "query heads")
    text = data.get("text_config")
    if isinstance(text, Mapping):
        check_values(text, f"{source} (text_config)")


def class_fields(config_class: type) -> dict[str, Any]:
    """The config class's own fields and their defaults (dataclass or __init__ keywords)."""
    if dataclasses.is_dataclass(config_class):
        out = {}
        for f in dataclasses.fields(config_class):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = ...
            else:
                out[f.name] = None
        return out
    params = inspect.signature(config_class.__init__).parameters
    return {n: (None if p.default is inspect.Parameter.empty else p.default)
            for n, p in params.items() if n not in ("self", "kwargs")}


def required_fields(config_class: type) -> dict[str, tuple[str, ...]]:
    """Shape fields the class would default, each with the names that may give it."""
    fields = class_fields(config_class)
    amap = dict(getattr(config_class, "attribute_map", {}) or {})
    out = {}
    for canonical in (*SHAPE_FIELDS, *OTHER_SHAPE_FIELDS):
        own = amap.get(canonical, canonical)
        if own in fields and fields[own] is not None:
            out[own] = tuple(dict.fromkeys((own, canonical)))
    return out


def check_fields(data: Mapping[str, Any], source: str, config_class: type,
                 model_type: str) -> None:
    """Every shape field the architecture needs is named; a misspelt one is pointed out."""
    required = required_fields(config_class)
    missing = [own for own, names in required.items() if not any(n in data for n in names)]
    if missing:
        known = set(class_fields(config_class)) | {n for names in SHAPE_FIELDS.values()
                                                   for n in names}
        known |= set(getattr(config_class, "attribute_map", {}) or {})
        unknown = [k for k in data if isinstance(k, str) and k not in known]
        for own in missing:
            close = difflib.get_close_matches(own, unknown, n=1, cutoff=_TYPO_CUTOFF)
            if close:
                raise ConfigError(f"{source}: unknown field '{close[0]}': did you mean "
                                  f"{own}? (without {own} transformers would use its "
                                  "default and build another model)")
        raise ConfigError(f"{source}: field '{missing[0]}' is missing: a {model_type} config "
                          f"must name {', '.join(missing)} (transformers would otherwise use "
                          "its defaults and build another model)")
    subs = getattr(config_class, "sub_configs", None) or {}
    text = data.get("text_config")
    if isinstance(text, Mapping) and isinstance(subs.get("text_config"), type):
        sub = subs["text_config"]
        check_fields(text, f"{source} (text_config)", sub,
                     str(getattr(sub, "model_type", model_type)))


def check_architectures(data: Mapping[str, Any], source: str, model_type: str,
                        causal_types: Any, encoder_types: Any) -> None:
    """A decoder's `architectures` must name a causal LM (else it is traced as a classifier)."""
    archs = data.get("architectures")
    if archs is None:
        return
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise ConfigError(f"{source}: field 'architectures' must be a list of class names, not "
                          f"{_short(archs)}")
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs)
    decoder = model_type in causal_types and model_type not in encoder_types
    if archs and decoder and not causal:
        raise ConfigError(f"{source}: field 'architectures' is {_short(archs)}: none is a "
                          f"causal LM (…ForCausalLM), and archsim traces a {model_type} "
                          "decoder as one; fix the name or leave the field out")


def shape_of(data: Mapping[str, Any]) -> dict[str, int] | None:
    """Layers, heads, KV heads and experts as the tracer's model facts will read them, or None
    where the config does not say them plainly (a nested text_config)."""
    if isinstance(data.get("text_config"), Mapping):
        return None

    def get(canonical: str) -> int:
        found = _given(data, canonical)
        return found[1] if found and isinstance(found[1], int) else 0

    heads, layers = get("num_attention_heads"), get("num_hidden_layers")
    if not heads or not layers:
        return None
    experts = next((data[k] for k in ("n_routed_experts", "num_local_experts", "num_experts",
                                      "moe_num_experts")
                    if isinstance(data.get(k), int) and data[k] > 0), 0)
    return {"layers": layers, "heads": heads,
            "kv_heads": get("num_key_value_heads") or heads, "experts": experts}


@contextlib.contextmanager
def config_errors(source: str) -> Iterator[None]:
    """Errors from inside transformers (building, tracing) as one sentence naming `source`."""
    try:
        yield
    except (ArchsimError, LookupError, OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the library's own errors are not ours to list
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        text = text if len(text) <= 300 else text[:297] + "..."
        if isinstance(exc, ValueError) and text:
            raise ConfigError(text if text.startswith(source) else f"{source}: {text}") \
                from exc
        raise ConfigError(f"{source}: transformers cannot build or run this model "
                          f"({type(exc).__name__}: {text or 'no message'})") from exc


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) or len(value) < 20 else \
        f"a {type(value).__name__} of {len(value)} items"
    return text if len(text) <= 60 else text[:57] + "..."
