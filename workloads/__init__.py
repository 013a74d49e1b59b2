"""Workloads: a model's config to the aten ops of one training or serving step.

Importing this package is light (no torch, no transformers); the tracer imports them inside the
functions that need them.

    catalog_names()                      shipped model names
    load_config(ref)                     a catalog name, a config.json path, or a Hub id
    model_facts(ref, dtype=BF16)         parameters, layers, heads, experts, KV bytes per token
    trace_raw(ref, phase, batch, seq, context=0, dtype=BF16) -> RawTrace
    get_workload(ref, phase, batch, seq, context=0, dtype=BF16, disabled_passes=()) -> Workload
"""

from workloads.config import ModelConfig, catalog_names
from workloads.config import find_config as load_config
from workloads.lower.api import get_workload
from workloads.raw import RawTrace
from workloads.trace.front import model_facts, trace_raw

__all__ = ["ModelConfig", "RawTrace", "catalog_names", "get_workload", "load_config",
           "model_facts", "trace_raw"]
