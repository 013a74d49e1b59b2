"""Turn the published multi-GPU results (`validation/published/*.csv`) into runnable cases.

Each case holds the configuration as published (model dimensions, hardware, plan, batch,
lengths, precision), what was measured and where it came from. Rows the simulator cannot
express (no layer counts, hardware without a spec, an aggregate that repeats another row) come
back as `Skipped`, with the reason. Assumptions where a table is silent are stated per case in
`note` and in `validation/published/README.md`; nothing here is fitted to the results.
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.core.memory import Recompute
from simulator.parallel.plan import Overlap, Plan

PUBLISHED_DIR = Path(__file__).resolve().parents[1] / "published"

MEGATRON_T1 = "Megatron-LM 2021 Table 1"
MEGATRON_T2 = "Megatron-LM 2021 Table 2"
MPT = "MPT (llm-foundry)"
TRTLLM = "TensorRT-LLM v0.6.1"
GPTFAST = "gpt-fast"
SOURCES = (MEGATRON_T1, MEGATRON_T2, MPT, TRTLLM, GPTFAST)

_MEGATRON_VOCAB = 51200
_MPT_VOCAB = 50368           # llm-foundry's padded GPT-NeoX tokenizer
# Layers, hidden, heads of the Table 2 models (GPT-3 175B; the 530B row of Table 1).
_TABLE2_DIMS = {174.6: (96, 12288, 96), 529.6: (105, 20480, 128)}
# d_model, n_heads, n_layers of llm-foundry's MPT benchmark configs (scripts/train/yamls).
_MPT_DIMS = {"125m": (768, 12, 12), "350m": (1024, 16, 24), "760m": (1536, 12, 24),
             "1b": (2048, 16, 24), "3b": (2560, 20, 32), "7b": (4096, 32, 32),
             "13b": (5120, 40, 40), "30b": (7168, 64, 48), "70b": (8192, 64, 80)}
# Public dimensions of the inference models that are not in the catalog.
# NB: GPT-J's rotary table is sized 4096 (its config says 2048) so the 2048 + 2048 rows, which
# TensorRT-LLM ran, fit; the table's size changes no FLOP or byte of a step.
_GPTJ_6B = {"model_type": "gptj", "n_embd": 4096, "n_layer": 28, "n_head": 16,
            "rotary_dim": 64, "vocab_size": 50400, "n_positions": 4096}
_FALCON_180B = {"model_type": "falcon", "hidden_size": 14848, "num_hidden_layers": 80,
                "num_attention_heads": 232, "num_kv_heads": 8, "vocab_size": 65024,
                "new_decoder_architecture": True, "parallel_attn": True, "bias": False,
                "alibi": False, "max_position_embeddings": 2048}
_INFER_MODELS = {"GPT-J 6B": ("gpt-j-6b", _GPTJ_6B), "LLaMA 7B": ("llama-2-7b", None),
                 "LLaMA 70B": ("llama-2-70b", None), "Llama-2-7B": ("llama-2-7b", None),
                 "Llama-2-70B": ("llama-2-70b", None), "Falcon 180B": ("falcon-180b",
                                                                      _FALCON_180B)}
_GPTFAST_PROMPT, _GPTFAST_NEW_TOKENS = 5, 200   # "Hello, my name is"; --max_new_tokens 200


@dataclass(frozen=True)
class Model:
    """A catalog name, or a config written to a stable temporary folder when first used."""

    name: str
    config: dict[str, Any] | None = None

    def ref(self) -> str:
        if self.config is None:
            return self.name
        folder = Path(tempfile.gettempdir()) / "archsim-published" / self.name
        path = folder / "config.json"
        text = json.dumps(self.config, sort_keys=True)
        if not path.exists() or path.read_text() != text:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return str(folder)


@dataclass(frozen=True)
class TrainCase:
    case_id: str
    source: str
    model: Model
    system: str
    plan: Plan
    seq: int
    dtype: str
    metric: str              # "tflops_per_gpu" (Megatron's formula) or "tokens_per_s_per_gpu"
    published: float
    dims: tuple[int, int, int] = (0, 0, 0)   # layers, hidden, vocab (Megatron's FLOP formula)
    note: str = ""
    disabled_passes: tuple[str, ...] = ()    # lowering passes the published stack lacked


@dataclass(frozen=True)
class InferCase:
    case_id: str
    source: str
    model: Model
    system: str
    plan: Plan
    batch: int
    input_len: int
    output_len: int
    precision: dict = field(default_factory=dict)   # Precision.parse keyword arguments
    metric: str = "tokens_per_s_per_gpu"            # or "tokens_per_s" (per request)
    published: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class Skipped:
    case_id: str
    source: str
    reason: str


def read_rows(name: str) -> list[dict[str, str]]:
    with open(PUBLISHED_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _int(text: str) -> int | None:
    value = _num(text)
    return None if value is None else int(value)


def _gpt2(name: str, layers: int, hidden: int, heads: int, seq: int, vocab: int) -> Model:
    return Model(name, {"model_type": "gpt2", "n_embd": hidden, "n_layer": layers,
                        "n_head": heads, "n_positions": seq, "vocab_size": vocab,
                        "activation_function": "gelu_new", "tie_word_embeddings": True})


def _a100_80(gpus: int) -> str:
    return "dgx-a100" if gpus <= 8 else f"dgx-a100:nodes={-(-gpus // 8)}"


def _megatron(row: dict[str, str]) -> TrainCase | Skipped:
    cid, gpus = row["case_id"], int(row["num_gpus"])
    table1 = "_t1_" in cid
    source = MEGATRON_T1 if table1 else MEGATRON_T2
    if not cid.startswith(("megatron2021_t1_", "megatron2021_t2_")):
        return Skipped(cid, MEGATRON_T1, "an aggregate that repeats Table 1's last row")
    seq, gb = _int(row["seq_len"]), _int(row["global_batch"])
    if table1:
        layers, hidden, heads = (_int(row[k]) for k in ("layers", "hidden", "heads"))
        plan = Plan(tp=_int(row["tp"]), pp=_int(row["pp"]), dp=_int(row["dp"]),
                    micro_batch=1, global_batch=gb, recompute=Recompute.FULL)
        note = "micro-batch 1 and the 1F1B schedule assumed (the table lists neither)"
    else:
        layers, hidden, heads = _TABLE2_DIMS[_num(row["params_B"])]
        mb = _int(row["micro_batch"])
        if row["notes"].startswith("scheme=ZeRO-3"):
            plan = Plan(dp=gpus, zero=3, micro_batch=mb, global_batch=gb,
                        recompute=Recompute.FULL)
            note = "ZeRO-3 without model parallelism; full recompute assumed"
        else:
            mp = int(row["notes"].split("model-parallel size=")[1].split(" ")[0])
            plan = Plan(tp=8, pp=mp // 8, dp=gpus // mp, micro_batch=mb, global_batch=gb,
                        recompute=Recompute.FULL)
            note = f"tp 8 x pp {mp // 8} assumed for model-parallel size {mp}; full recompute"
    # Megatron-LM of 2021 all-reduced gradients after the backward pass (no overlap).
    plan = plan.with_(overlap=Overlap(dp=False))
    model = _gpt2(f"megatron-gpt-{row['params_B']}b", layers, hidden, heads, seq,
                  _MEGATRON_VOCAB)
    # NB: Megatron-LM of 2021 predates FlashAttention and kept the scores (fused softmax in
    # fp16); the unfused lowering prices that math in fp32, so flash kernels stand in for it.
    return TrainCase(cid, source, model, _a100_80(gpus), plan, seq, "fp16",
                     "tflops_per_gpu", float(row["value"]), (layers, hidden, _MEGATRON_VOCAB),
                     note + "; flash attention stands in for 2021's fused-softmax attention")


def _mpt(row: dict[str, str]) -> TrainCase | Skipped:
    cid, gpus = row["case_id"], int(row["num_gpus"])
    size = row["model"].split("-", 1)[1].lower()
    if size not in _MPT_DIMS:
        return Skipped(cid, MPT, f"no llm-foundry dimensions for MPT-{size}")
    if row["precision"] != "bf16" or "A100" not in row["hardware"]:
        return Skipped(cid, MPT, f"{row['precision']} on {row['hardware']} is not modelled")
    d_model, heads, layers = _MPT_DIMS[size]
    seq = _int(row["seq_len"])
    model = _gpt2(f"mpt-{size}-seq{seq}", layers, d_model, heads, seq, _MPT_VOCAB)
    nodes = -(-gpus // 8)
    system = f"a100-sxm-40gb:devices={min(gpus, 8)}" + (
        f",nodes={nodes},nic_Gbps=200,fabric=roce" if nodes > 1 else "")
    recompute = Recompute.FULL if row["act_recompute"] == "full" else Recompute.NONE
    plan = Plan(dp=gpus, zero=3, micro_batch=_int(row["micro_batch"]),
                global_batch=_int(row["global_batch"]), recompute=recompute)
    return TrainCase(cid, MPT, model, system, plan, seq, "bf16", "tokens_per_s_per_gpu",
                     float(row["tokens_per_s_per_gpu"]),
                     note="FSDP FULL_SHARD as ZeRO-3 over all GPUs; 1600 Gb/s per node RoCE")


def training_cases() -> tuple[list[TrainCase], list[Skipped]]:
    cases, skipped = [], []
    for row in read_rows("training_throughput.csv"):
        make = _megatron if row["case_id"].startswith("megatron") else _mpt
        case = make(row)
        (skipped if isinstance(case, Skipped) else cases).append(case)
    return cases, skipped


def _precision(text: str) -> dict:
    """The source's precision column as `Precision.parse` arguments; a KV-cache format it
    names ("fp8 (fp8 KV cache)") is set apart, as the KV cache otherwise stays in bf16."""
    if text.startswith("fp8"):
        return {"dtype": "fp8", "kv": "fp8"} if "fp8 kv cache" in text.lower() \
            else {"dtype": "fp8"}
    if text.startswith("int8"):
        return {"dtype": "bf16", "weights": "int8"}
    if text.startswith("int4"):
        return {"dtype": "bf16", "weights": "int4"}
    return {"dtype": "fp16" if text.startswith("fp16") else "bf16"}


def _inference(row: dict[str, str]) -> InferCase | Skipped:
    cid, source_text = row["case_id"], row["framework"]
    source = GPTFAST if "gpt-fast" in source_text else TRTLLM
    if "MI250X" in row["hardware"]:
        return Skipped(cid, source, "MI250X has no device spec in hwspecs")
    if row["model"] not in _INFER_MODELS:
        return Skipped(cid, source, f"model {row['model']!r} has no configuration here")
    name, config = _INFER_MODELS[row["model"]]
    tp = int(row["tp"])
    system = "dgx-h100" if "H100" in row["hardware"] else "dgx-a100"
    plan = Plan(tp=tp)
    precision = _precision(row["precision"])
    if source == GPTFAST:
        return InferCase(cid, source, Model(name, config), system, plan, 1, _GPTFAST_PROMPT,
                         _GPTFAST_NEW_TOKENS, precision, "tokens_per_s", float(row["value"]),
                         "gpt-fast defaults (5-token prompt, 200 new tokens); 400 W DGX A100 "
                         "instead of 330 W and a hybrid cube mesh")
    return InferCase(cid, source, Model(name, config), system, plan, int(row["batch_size"]),
                     int(row["input_len"]), int(row["output_len"]), precision,
                     "tokens_per_s_per_gpu", float(row["value"]),
                     "static batch; output tokens/s per GPU over prefill + decode")


def inference_cases() -> tuple[list[InferCase], list[Skipped]]:
    cases, skipped = [], []
    for row in read_rows("inference_throughput.csv"):
        case = _inference(row)
        (skipped if isinstance(case, Skipped) else cases).append(case)
    return cases, skipped


def megatron_flops_per_step(batch: int, seq: int, layers: int, hidden: int,
                            vocab: int) -> float:
    """Narayanan et al. 2021, eq. 3: FLOPs per iteration with full recompute."""
    return 96.0 * batch * seq * layers * hidden ** 2 * (
        1 + seq / (6 * hidden) + vocab / (16 * layers * hidden))
