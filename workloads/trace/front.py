"""The tracer's front door: `trace_raw(model, phase, batch, seq, context)` -> `RawTrace`.

A trace is every aten op one step of the model runs (see `workloads.raw.RawOp`), recorded on
fake CPU tensors. Conventions: train and prefill run `batch` sequences of `seq` tokens with
`context=0`; decode runs one token (`seq=1`) for `batch` sequences whose KV cache already holds
`context` tokens. Causal LMs are traced with `AutoModelForCausalLM` (train: labels = inputs);
encoders (BERT) as sequence classification (train: fine-tuning on a class label).

RawOp conventions the lowering relies on:
- `inputs`/`input_ids` are the tensor arguments in call order (lists flattened), `args` the
  non-tensor positional arguments in order, `attrs["kwargs"]` the non-tensor keyword ones.
- Roles: WEIGHT (parameters and their views), KV_CACHE (what a cache holds or a cache update
  writes), INDEX (integer tensors), GRADIENT (parameter gradients), OPTIMIZER_STATE (AdamW
  moments and step), ACTIVATION otherwise.
- `attrs["cache_update"]`: the op runs inside the KV-cache update (the concatenation).
- Every op inside one `F.scaled_dot_product_attention` call carries `attrs["attention"] = True`,
  `attrs["sdpa_call"]` (the same number for all ops of that call, forward and backward) and the
  logical shape, GQA undone: batch, heads, kv_heads, q_len, kv_len, head_dim, v_head_dim,
  causal, has_mask, scale, kv_repeated, sliding_window, dropout_p. On CPU, SDPA runs as one
  flash op, or (different K/V head dims as in MLA, dropout in training) as math ops: bmm,
  softmax, dropout; either way the call is one attention kernel to a GPU stack.
- The optimizer step is one fused AdamW op per parameter tensor, tagged with its module.
"""

from __future__ import annotations

from hwspecs.dtypes import DType
from hwspecs.errors import PositionWarning
from workloads.config import ModelConfig, find_config
from workloads.op import ModelFacts, Phase
from workloads.raw import RawTrace

# NB: families whose position table is learned; others use rotary or relative positions.
_LEARNED_POSITIONS = frozenset({"bert", "roberta", "xlm-roberta", "distilbert", "electra",
                                "gpt2", "gpt_neo", "gpt_bigcode", "opt"})


def check_shape(phase: Phase, batch: int, seq: int, context: int) -> None:
    """Reject sizes that make no sense, in one sentence."""
    for name, value in (("batch", batch), ("seq", seq), ("context", context)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer, not {value!r}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    if seq < 1:
        raise ValueError(f"seq must be at least 1 token, not {seq}")
    if context < 0:
        raise ValueError(f"context must be zero or more tokens, not {context}")
    if phase is Phase.DECODE and seq != 1:
        raise ValueError(f"decode generates one token per sequence: seq must be 1, not {seq} "
                         "(give the cache length as context)")
    if phase is not Phase.DECODE and context != 0:
        raise ValueError(f"{phase.value} starts from an empty cache: context must be 0, "
                         f"not {context}")


def parse_phase(phase: Phase | str) -> Phase:
    if isinstance(phase, Phase):
        return phase
    try:
        return Phase(str(phase).strip().lower())
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        raise ValueError(f"unknown phase {phase!r}; known phases: {known}") from None


def trace_raw(ref: str | ModelConfig, phase: Phase | str, batch: int, seq: int,
              context: int = 0, dtype: DType | str = DType.BF16,
              use_cache: bool = True, reshape: bool = True) -> RawTrace:
    """Trace one step of a model (catalog name, config.json path or Hub id).

    Cached on disk (`workloads.trace.cache`); another batch, seq or context of a traced phase
    is re-shaped from a fitted template, not traced again (`workloads.trace.reshape`).
    `use_cache=False` traces afresh: no cache, no template. `reshape=False` traces the size as
    asked and caches it by size, without fitting a template (one trace instead of three or
    more, for a model asked at one size only).
    """
    phase = parse_phase(phase)
    dtype = DType.parse(dtype) if isinstance(dtype, str) else dtype
    check_shape(phase, batch, seq, context)
    cfg = find_config(ref)
    check_positions(cfg, seq + context)
    from workloads.trace.reuse import get_trace

    return get_trace(cfg, phase, batch, seq, context, dtype, use_cache, reshape)


def model_facts(ref: str | ModelConfig, dtype: DType = DType.BF16,
                use_cache: bool = True) -> ModelFacts:
    """Parameters (counted from the model built on meta), layers, heads, experts, KV bytes."""
    cfg = find_config(ref)
    from workloads.trace.reuse import facts

    return facts(cfg, dtype, use_cache)


def check_positions(cfg: ModelConfig, tokens: int) -> None:
    """Learned absolute positions (BERT, GPT-2) end at their table: refused beyond it. Rotary
    and ALiBi positions (GPT-J, Llama, BLOOM, MPT) run on past the trained range: a
    `PositionWarning` says so, and the step is traced."""
    data = cfg.data
    default = "absolute" if cfg.model_type in _LEARNED_POSITIONS else None
    learned = data.get("position_embedding_type", default) == "absolute"
    limit = next((data[k] for k in ("n_positions", "max_position_embeddings", "max_seq_len",
                                    "seq_length") if isinstance(data.get(k), int)
                  and not isinstance(data.get(k), bool)), None)
    if limit is None or tokens <= limit:
        return
    if learned:
        raise ValueError(f"{cfg.name} has learned positions for {limit} tokens; "
                         f"seq + context = {tokens} is more")
    import warnings

    warnings.warn(PositionWarning(
        f"{cfg.name} was trained on {limit} positions; seq + context = {tokens} is more "
        "(its rotary or ALiBi positions run on, but how well it works there is unknown)"),
        stacklevel=2)
