"""GenZ (pip genz-llm) on a `runner_protocol` job, run by its own venv's python.

One prediction: `prefill_moddeling` and `decode_moddeling` for the case, on GenZ's custom
hardware dict built from the shared H100 figures, with the case's model as a GenZ
`ModelConfig` (its API takes one in place of a model name).
GenZ writes each operator table it builds as a CSV under /tmp/genz/data/model (part of its
cost per prediction); the runner deletes the files it made when it is done.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from runner_protocol import serve

TOOL = "genz-llm"
GENZ_MODEL_DIR = Path("/tmp/genz/data/model")
_GIB = 2.0**30      # GenZ's "GB" and "GB/s" are binary (GenZ.unit.Unit.binary_dicts)


def system_spec(hw: dict) -> dict:
    """GenZ's custom-hardware dict (`real_values`): decimal TFLOPS, binary GB and GB/s, and
    microseconds, so that it holds the same bytes/s and FLOP/s as the other tools get."""
    return {"Flops": hw["matrix_bf16_flops_per_s"] / 1e12,
            "Memory_size": hw["mem_capacity_bytes"] / _GIB,
            "Memory_BW": hw["mem_bw_bytes_per_s"] / _GIB,
            "ICN": hw["link_bw_bytes_per_s"] / _GIB,
            "ICN_LL": hw["link_latency_s"] * 1e6,
            "real_values": True}


def model_kwargs(m: dict) -> dict:
    """GenZ `ModelConfig` arguments; a gated MLP is GenZ's `num_ffi=2` (two up projections),
    as in GenZ's own Llama-2 entries."""
    return {"model": f"archsim/{m['name']}", "vocab_size": m["vocab_size"],
            "max_model_len": m["max_position_embeddings"] or 4096,
            "hidden_size": m["hidden_size"], "intermediate_size": m["intermediate_size"],
            "num_ffi": 2 if m["gated_mlp"] else 1, "num_decoder_layers": m["layers"],
            "num_attention_heads": m["heads"], "num_key_value_heads": m["kv_heads"],
            "hidden_act": "silu" if m["gated_mlp"] else "gelu"}


def predict(hw: dict, case: dict) -> tuple[float, float]:
    from GenZ import ModelConfig, decode_moddeling, prefill_moddeling

    common = {"model": ModelConfig(**model_kwargs(case["model"])), "batch_size": case["batch"],
              "system_name": system_spec(hw), "bits": "bf16", "tensor_parallel": case["tp"]}
    pre = prefill_moddeling(input_tokens=case["prompt_len"], **common)
    # Bb is GenZ's beam width (default 4): one sequence per batch entry here. The step reads
    # input_tokens of cache plus output_tokens it generated: context_len + 1 keys, like the
    # other tools' one decode step after the prompt.
    dec = decode_moddeling(input_tokens=case["context_len"], output_tokens=1, Bb=1, **common)
    return pre["Latency"] / 1e3, dec["Latency"] / 1e3     # GenZ reports milliseconds


def assumptions() -> str:
    import inspect

    from GenZ import System, prefill_moddeling

    eff = inspect.signature(prefill_moddeling).parameters["system_eff"].default
    comm = inspect.signature(System).parameters["comm_efficiency"].default
    return (f"compute and memory efficiency {eff:g} (system_eff default), link {comm:g}; "
            "per-operator roofline; ring all-reduce with a fixed 5 us start")


def _model_files() -> set[Path]:
    return set(GENZ_MODEL_DIR.glob("*.csv")) if GENZ_MODEL_DIR.is_dir() else set()


if __name__ == "__main__":
    before = _model_files()
    try:
        serve(TOOL, metadata.version(TOOL), assumptions(), predict)
    finally:
        for path in _model_files() - before:
            path.unlink(missing_ok=True)
