"""Traces of the tiny model configs, made once per test session and shared by the lowering
tests (golden counts, FLOP identities, workload checks)."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

from tests.workloads.tiny_models import write_tiny
from workloads import trace_raw

_DIR = Path(tempfile.mkdtemp(prefix="archsim-lowering-"))

# A small Llama whose matmuls dwarf its pointwise work (2*N*tokens identities hold to <1%).
SMALL_LLAMA = {"hidden_size": 256, "intermediate_size": 688, "num_attention_heads": 4,
               "num_key_value_heads": 2, "vocab_size": 1000}


@cache
def config_path(name: str, **overrides) -> str:
    tag = "-".join(f"{k}{v}" for k, v in sorted(overrides.items()))
    return write_tiny(_DIR, name, **overrides) if not tag else _write(name, tag, overrides)


def _write(name: str, tag: str, overrides: dict) -> str:
    folder = _DIR / tag
    folder.mkdir(exist_ok=True)
    return write_tiny(folder, name, **overrides)


@cache
def tiny_trace(name: str, phase: str, batch: int = 2, seq: int = 8, context: int = 0,
               **overrides):
    """`name` from `tiny_models.TINY`; decode takes seq=1 and a context."""
    return trace_raw(config_path(name, **overrides), phase, batch, seq, context)


def small_llama_trace(phase: str, batch: int = 1, seq: int = 64):
    return tiny_trace("tiny-llama", phase, batch, seq, **SMALL_LLAMA)
