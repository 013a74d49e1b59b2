"""Timing a whole model step, un-instrumented: the real Hugging Face model, random weights.

The model is built from the same config the tracer reads, with SDPA attention and grouped-GEMM
experts as traced, and run the way the trace ran it: prefill into a fresh KV cache with logits
for the last position only; one decode token over a cache of `context` tokens (cropped back
after each step, so every step sees the same length); a training step of forward, backward
and AdamW. Imports torch and transformers: only `validation.measure.bench` uses it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from validation.measure.bench_kernels import TORCH_DTYPES
from workloads.config import find_config, hf_config
from workloads.op import Phase
from workloads.trace.model_build import is_causal_lm

SEED = 0
INPUT_SETS = 2   # token batches rotated between calls


def build_model(ref: str, dtype: str, device: str) -> tuple[torch.nn.Module, bool]:
    """The model of `ref` on `device` with seeded random weights, and whether it is causal."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    cfg = find_config(ref)
    config = hf_config(cfg)
    causal = is_causal_lm(cfg)
    auto = AutoModelForCausalLM if causal else AutoModelForSequenceClassification
    cls = auto._model_mapping[type(config)]
    kwargs = {"attn_implementation": "sdpa"}
    can_set = getattr(cls, "_can_set_experts_implementation", None)   # transformers >= 5
    if can_set is not None and can_set():
        kwargs["experts_implementation"] = "grouped_mm"   # as the tracer runs experts
    torch.manual_seed(SEED)
    model = cls._from_config(config, dtype=TORCH_DTYPES[dtype], **kwargs)
    return model.to(device), causal


def _ids(model: torch.nn.Module, batch: int, seq: int, device: str) -> torch.Tensor:
    vocab = int(getattr(model.config, "vocab_size", 2))
    return torch.randint(0, vocab, (batch, seq), device=device)


def step_fn(model: torch.nn.Module, causal: bool, phase: Phase, batch: int, seq: int,
            context: int, device: str) -> Callable[[int], object]:
    """`fn(i)` runs one step of `phase` on input set i % INPUT_SETS."""
    ids = [_ids(model, batch, seq, device) for _ in range(INPUT_SETS)]
    if phase is Phase.TRAIN:
        return _train_fn(model, causal, ids, device)
    model.eval()
    if not causal:
        return _no_grad(lambda i: model(input_ids=ids[i % INPUT_SETS]))
    from transformers import DynamicCache

    # NB: newer transformers call the cache argument `cache`, older `past_key_values`.
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"

    def run(tokens: torch.Tensor, cache) -> object:
        return model(input_ids=tokens, use_cache=True, logits_to_keep=1, **{cache_arg: cache})

    if phase is Phase.PREFILL:
        return _no_grad(lambda i: run(ids[i % INPUT_SETS], DynamicCache(config=model.config)))
    caches = [DynamicCache(config=model.config) for _ in range(INPUT_SETS)]
    with torch.no_grad():
        for cache in caches:
            run(_ids(model, batch, context, device), cache)

    def decode(i: int) -> object:
        out = run(ids[i % INPUT_SETS], caches[i % INPUT_SETS])
        caches[i % INPUT_SETS].crop(-seq)   # drop the new tokens: the cache is back to L
        return out
    return _no_grad(decode)


def _no_grad(fn: Callable[[int], object]) -> Callable[[int], object]:
    def run(i: int) -> object:
        with torch.no_grad():
            return fn(i)
    return run


def _train_fn(model: torch.nn.Module, causal: bool, ids: list[torch.Tensor],
              device: str) -> Callable[[int], object]:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)
    if causal:
        labels, extra = ids, {"use_cache": False}
    else:
        classes = int(getattr(model.config, "num_labels", 2))
        labels = [torch.randint(0, classes, (t.shape[0],), device=device) for t in ids]
        extra = {}

    def step(i: int) -> object:
        loss = model(input_ids=ids[i % INPUT_SETS], labels=labels[i % INPUT_SETS],
                     **extra).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss
    return step
