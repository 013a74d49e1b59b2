"""Measured serving runs in aiconfigurator's `silicon_sample.csv` format, read and turned into
what archsim simulates: the model, the system, the plan, the precision and the engine of each
run, or the reason a run cannot be expressed.

    runs = read_runs("validation/published/aiconfigurator/silicon_sample_h100.csv")
    setup = run_setup(runs[0])          # RunSetup, or Skip with the reason

Precisions (`gemm_quant_mode`, else `precision`; blank is the checkpoint's bf16):

| measured | archsim | why |
|---|---|---|
| bf16 / blank | bf16 weights and activations | |
| fp8 | fp8 W8A8 | per-tensor scales (TensorRT-LLM, vLLM `--quantization fp8`) |
| fp8_block | fp8_block W8A8 | 128x128 block scales (DeepSeek-V3 style, DeepGEMM), at the fp8 peak |
| fp4, nvfp4, mxfp4 | that format's weights (nvfp4 and mxfp4 with their block scales), bf16 compute (W4A16) where the GPU has no matrix peak for it but states weight-only kernels (H100: vLLM's Marlin FP4), W4A4 where it has the peak; a GPU with neither refuses the run | |
| int4, w4a16 | int4 weights, bf16 compute | |
| fp8 or a 4-bit mode, of a checkpoint published quantized | the checkpoint's own format (`CHECKPOINT_FORMATS`) | the engine loads the weights as published: vLLM's and SGLang's fp8 method read `weight_block_size` from the checkpoint's `quantization_config` and run block-scaled kernels; gpt-oss ships MXFP4 experts |

The KV cache takes each engine's `auto` dtype: the model's bf16 (none of these runs records a
KV-cache quantization). NB: one precision covers every weight; checkpoints that keep attention
or the router in bf16 beside fp4/fp8 experts (gpt-oss, MiniMax-M2.5) are priced as if those
were quantized too, and a different `moe_quant_mode` of the same width is taken as the GEMMs'.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from hwspecs.dtypes import DType
from simulator.core.precision import Precision

SHIPPED = Path(__file__).resolve().parents[1] / "published" / "aiconfigurator" \
    / "silicon_sample_h100.csv"
CITATION = "NVIDIA aiconfigurator silicon data, commit 095f58a"

REQUIRED = ("id", "backend", "model_path", "system", "mode", "isl", "osl", "silicon_ttft_ms",
            "silicon_tpot_ms")
NUMBERS = ("isl", "osl", "batch_size", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size",
           "moe_ep_size", "prefill_batch_size", "prefill_num_workers", "prefill_tp_size",
           "prefill_pp_size", "prefill_attention_dp_size", "prefill_moe_tp_size",
           "prefill_moe_ep_size", "decode_batch_size", "decode_num_workers", "decode_tp_size",
           "decode_pp_size", "decode_attention_dp_size", "decode_moe_tp_size",
           "decode_moe_ep_size", "silicon_ttft_ms", "silicon_tpot_ms")
ENGINES = {"trtllm": "trtllm", "tensorrt-llm": "trtllm", "vllm": "vllm", "sglang": "sglang"}
# aiconfigurator's system names -> shipped archsim systems (one node; more nodes as needed).
SYSTEMS = {"h100_sxm": "dgx-h100", "h200_sxm": "hgx-h200", "a100_sxm": "dgx-a100",
           "b200_sxm": "dgx-b200", "gb200_sxm": "gb200-nvl72", "gb200": "gb200-nvl72"}
_W4 = {"fp4": DType.FP4, "nvfp4": DType.NVFP4, "mxfp4": DType.MXFP4, "int4": DType.INT4,
       "w4a16": DType.INT4, "int4_wo": DType.INT4}
_FP4 = {k: v for k, v in _W4.items() if v is not DType.INT4}
_W8 = {"fp8": DType.FP8, "fp8_block": DType.FP8_BLOCK, "fp8_pt": DType.FP8}
# Checkpoints published quantized, lowercase Hub id -> the format of their weights, from the
# `quantization_config` of their config.json (aiconfigurator's model_configs, commit 095f58a):
# quant_method fp8 with weight_block_size [128, 128] is block-scaled fp8; gpt-oss is mxfp4.
CHECKPOINT_FORMATS = {
    "minimaxai/minimax-m2.5": DType.FP8_BLOCK, "qwen/qwen3-235b-a22b-fp8": DType.FP8_BLOCK,
    "qwen/qwen3-32b-fp8": DType.FP8_BLOCK, "deepseek-ai/deepseek-v3": DType.FP8_BLOCK,
    "deepseek-ai/deepseek-r1": DType.FP8_BLOCK, "zai-org/glm-5-fp8": DType.FP8_BLOCK,
    "openai/gpt-oss-120b": DType.MXFP4, "openai/gpt-oss-20b": DType.MXFP4,
}


@dataclass(frozen=True)
class Run:
    """One measured serving run (one CSV row); numbers are floats, NaN where blank."""

    id: str
    line: int
    engine: str                     # as written in `backend`
    version: str
    hf_id: str
    system: str
    mode: str
    precision: str                  # the quant mode used: gemm_quant_mode, else precision
    moe_precision: str
    values: dict[str, float]
    ttft_s: float
    tpot_s: float
    source: str

    def num(self, name: str) -> float:
        return self.values.get(name, math.nan)

    def size(self, name: str, default: int = 1) -> int:
        """A parallel size column: blank or 0 is `default`."""
        v = self.num(name)
        return default if not math.isfinite(v) or v <= 0 else int(v)


@dataclass(frozen=True)
class Skip:
    id: str
    reason: str


def read_runs(path: str | Path) -> list[Run]:
    """Every row of a silicon_sample-format CSV; a malformed one names the line and column."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"serving runs file {path} does not exist")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} line 1: the header lacks column(s) {', '.join(missing)} "
                             "of the aiconfigurator silicon_sample format")
        runs = [_run(path, line, row) for line, row in enumerate(reader, start=2)]
    if not runs:
        raise ValueError(f"{path} holds no serving runs")
    return runs


def _run(path: Path, line: int, row: dict[str, str]) -> Run:
    values = {}
    for name in NUMBERS:
        text = (row.get(name) or "").strip()
        try:
            values[name] = float(text) if text else math.nan
        except ValueError:
            raise ValueError(f"{path} line {line}: column {name} is {text!r}, not a "
                             "number") from None
    for name in ("isl", "osl", "silicon_ttft_ms", "silicon_tpot_ms"):
        if not values[name] > 0:
            raise ValueError(f"{path} line {line}: column {name} must be a positive number, "
                             f"not {row.get(name)!r}")
    gemm = (row.get("gemm_quant_mode") or "").strip().lower()
    base = (row.get("precision") or "").strip().lower()
    return Run(id=(row.get("id") or f"line {line}").strip(), line=line,
               engine=(row.get("backend") or "").strip().lower(),
               version=(row.get("backend_version") or "").strip(),
               hf_id=(row.get("model_path") or "").strip(),
               system=(row.get("system") or "").strip().lower(),
               mode=(row.get("mode") or "").strip().lower(), precision=gemm or base or "bf16",
               moe_precision=(row.get("moe_quant_mode") or "").strip().lower(), values=values,
               ttft_s=values["silicon_ttft_ms"] / 1e3, tpot_s=values["silicon_tpot_ms"] / 1e3,
               source=(row.get("silicon_data_source") or "").strip())


def checkpoint_mode(name: str, hf_id: str) -> str:
    """The quant mode a run's engine runs: `name`, unless the checkpoint was published in a
    format of the same width (an fp8 run of a block-scaled fp8 checkpoint runs block-scaled)."""
    published = CHECKPOINT_FORMATS.get(hf_id.strip().lower())
    name = name.strip().lower()
    if published is None:
        return name
    same = any(name in modes and published in modes.values() for modes in (_W8, _FP4))
    return published.value if same else name


def precision_of(name: str, matrix_dtypes: frozenset[DType]) -> Precision | None:
    """archsim's precision for a measured quant mode on a GPU with these matrix peaks."""
    name = name.strip().lower()
    if name in ("", "bf16", "bfloat16", "float16", "fp16", "auto", "none"):
        return Precision()
    if name in _W8:
        return Precision(weights=_W8[name], activations=_W8[name], kv_cache=DType.BF16)
    if name in _W4:
        w4 = _W4[name]
        compute = w4 if w4 is not DType.INT4 and w4 in matrix_dtypes else DType.BF16
        return Precision(weights=w4, activations=compute, kv_cache=DType.BF16)
    return None


@dataclass(frozen=True)
class Worker:
    """One kind of replica of a run: its GPUs' plan (tp x attn_dp GPUs, the experts over ep of
    them) and how many of them."""

    tp: int
    ep: int
    replicas: int = 1
    attn_dp: int = 1

    @property
    def gpus(self) -> int:
        return self.tp * self.attn_dp


@dataclass(frozen=True)
class RunSetup:
    run: Run
    model: str                      # catalog name
    engine: str                     # archsim engine (preset)
    system: str                     # shipped system of one node
    precision: Precision
    concurrency: int
    decode: Worker                  # agg: the one pool
    prefill: Worker | None = None   # disagg only

    @property
    def gpus(self) -> int:
        return sum(w.gpus * w.replicas for w in (self.decode, self.prefill) if w is not None)


def run_setup(run: Run, model: str | None, matrix_dtypes: frozenset[DType]
              ) -> RunSetup | Skip:
    """What archsim simulates for `run` (its model resolved to `model`), or why it cannot."""
    if model is None:
        return Skip(run.id, f"model {run.hf_id!r} is not in the catalog (and the Hub is not "
                            "read when validating)")
    engine = ENGINES.get(run.engine)
    if engine is None:
        return Skip(run.id, f"backend {run.engine!r} has no engine preset (trtllm, vllm, "
                            "sglang)")
    system = SYSTEMS.get(run.system)
    if system is None:
        return Skip(run.id, f"system {run.system!r} is not a shipped system "
                            f"({', '.join(sorted(SYSTEMS))})")
    precision = precision_of(checkpoint_mode(run.precision, run.hf_id), matrix_dtypes)
    if precision is None:
        return Skip(run.id, f"precision {run.precision!r} has no archsim mapping")
    common = dict(run=run, model=model, engine=engine, system=system, precision=precision)
    if run.mode == "agg":
        worker = _worker(run, "")
        if isinstance(worker, str):
            return Skip(run.id, worker)
        per_rank = run.num("batch_size")
        if not per_rank >= 1:
            return Skip(run.id, "no concurrency (batch_size is blank)")
        # batch_size is per attention-DP rank (the source's silicon_concurrency is the total).
        concurrency = int(per_rank) * worker.attn_dp
        recorded = recorded_concurrency(run)
        if recorded is not None and recorded != concurrency:
            if worker.attn_dp == 1 and recorded == int(per_rank) * worker.tp:
                # NB: attention DP over the TP ranks where the column is blank (TensorRT-LLM
                # gpt-oss runs): batch_size per rank x tp ranks is the recorded concurrency.
                worker = Worker(tp=1, ep=worker.ep, attn_dp=worker.tp)
                concurrency = recorded
            else:
                return Skip(run.id, f"batch_size x attention_dp_size = {concurrency} but the "
                                    f"source records silicon_concurrency={recorded}")
        return RunSetup(**common, concurrency=concurrency, decode=worker)
    if run.mode == "disagg":
        prefill, decode = _worker(run, "prefill_"), _worker(run, "decode_")
        for w in (prefill, decode):
            if isinstance(w, str):
                return Skip(run.id, w)
        per_worker = run.num("decode_batch_size")
        if not (per_worker >= 1 and run.num("prefill_num_workers") >= 1
                and run.num("decode_num_workers") >= 1):
            return Skip(run.id, "a disaggregated run without its worker counts and decode "
                                "batch size cannot be rebuilt")
        return RunSetup(**common, concurrency=int(per_worker) * decode.replicas * decode.attn_dp,
                        decode=decode, prefill=prefill)
    return Skip(run.id, f"mode {run.mode!r} is neither agg nor disagg")


def _worker(run: Run, prefix: str) -> Worker | str:
    """The plan of one worker kind, or why archsim cannot express it: tp x attention_dp GPUs,
    the experts over moe_ep of them, each split moe_tp ways (blank MoE sizes: every expert
    split over all the GPUs, as vLLM shards MoE layers without --enable-expert-parallel)."""
    if run.size(f"{prefix}pp_size") > 1:
        return f"{prefix}pp_size {run.size(f'{prefix}pp_size')}: pipelined serving is not modelled"
    tp, adp = run.size(f"{prefix}tp_size"), run.size(f"{prefix}attention_dp_size")
    moe_tp, ep = run.size(f"{prefix}moe_tp_size", tp * adp), run.size(f"{prefix}moe_ep_size")
    if ep > 1 and moe_tp * ep != tp * adp:
        return (f"{prefix}moe_tp_size {moe_tp} x moe_ep_size {ep} is not the {tp * adp} GPUs "
                f"of tp {tp} x attention_dp {adp}: experts on other GPUs than attention are "
                "not expressible")
    replicas = run.size(f"{prefix}num_workers") if prefix else 1
    return Worker(tp=tp, ep=ep, replicas=replicas, attn_dp=adp)


_CONCURRENCY = re.compile(r"silicon_concurrency=(\d+)")


def recorded_concurrency(run: Run) -> int | None:
    """The concurrency the source column names, where it does (a check on batch_size)."""
    m = _CONCURRENCY.search(run.source)
    return int(m.group(1)) if m else None
