"""llm-analysis (pip llm-analysis) on a `runner_protocol` job, run by its own venv's python.

One prediction: build `LLMAnalysis` for the case (model, GPU, bf16, TP) and call its
`inference` once; prefill latency and per-token decode latency both come from that call.
"""

from __future__ import annotations

from importlib import metadata

from runner_protocol import serve

TOOL = "llm-analysis"


def gpu_config_kwargs(hw: dict) -> dict:
    """The shared H100 figures in llm-analysis's units: capacity in GiB (it multiplies by
    1024**3), bandwidths in decimal GB/s (x 10**9), TFLOPS, seconds."""
    return {"name": f"{hw['name']}-archsim",
            "mem_per_GPU_in_GB": hw["mem_capacity_bytes"] / 2.0**30,
            "hbm_bandwidth_in_GB_per_sec": hw["mem_bw_bytes_per_s"] / 1e9,
            "intra_node_bandwidth_in_GB_per_sec": hw["link_bw_bytes_per_s"] / 1e9,
            "intra_node_min_message_latency": hw["link_latency_s"],
            "peak_fp16_TFLOPS": hw["matrix_bf16_flops_per_s"] / 1e12}


def model_config_kwargs(m: dict) -> dict:
    """llm-analysis counts two MLP matrices of `ffn_embed_dim`: a gated MLP (three of
    `intermediate_size`) is handed over as two of 1.5 x intermediate_size, the same weights
    and FLOPs (its own Llama-2 configs use 4 x hidden instead, 24% short for the 70B)."""
    # NB: the gated MLP's elementwise product is left to llm-analysis's own activation model.
    ffn = m["intermediate_size"] * 3 // 2 if m["gated_mlp"] else m["intermediate_size"]
    return {"name": m["name"], "num_layers": m["layers"], "n_head": m["heads"],
            "hidden_dim": m["hidden_size"], "vocab_size": m["vocab_size"],
            "max_seq_len": m["max_position_embeddings"] or None,
            "num_key_value_heads": m["kv_heads"], "ffn_embed_dim": ffn,
            # Given with ffn_embed_dim, it skips the check that ffn divides by hidden.
            "expansion_ratio": ffn / m["hidden_size"], "model_type": "llama"}


def predict(hw: dict, case: dict) -> tuple[float, float]:
    from llm_analysis.analysis import LLMAnalysis
    from llm_analysis.config import DtypeConfig, GPUConfig, ModelConfig, ParallelismConfig

    analysis = LLMAnalysis(ModelConfig(**model_config_kwargs(case["model"])),
                           GPUConfig(**gpu_config_kwargs(hw)), DtypeConfig(),
                           ParallelismConfig(tp_size=case["tp"]))
    # The decode step it prices reads a KV cache of seq_len + num_tokens_to_generate tokens.
    summary = analysis.inference(batch_size_per_gpu=case["batch"], seq_len=case["prompt_len"],
                                 num_tokens_to_generate=case["context_len"]
                                 - case["prompt_len"] + 1, use_kv_cache=True)
    return float(summary["prefill_latency"]), float(summary["decode_latency"])


def assumptions() -> str:
    from llm_analysis import constant as c

    return (f"FLOPS efficiency {c.FLOPS_EFFICIENCY:g}, HBM {c.HBM_MEMORY_EFFICIENCY:g}, "
            f"NVLink {c.INTRA_NODE_MEMORY_EFFICIENCY:g} (llm_analysis.constant defaults); "
            "roofline per attention / MLP block, ring all-reduce, no per-kernel overhead")


if __name__ == "__main__":
    serve(TOOL, metadata.version(TOOL), assumptions(), predict)
