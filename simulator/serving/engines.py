"""Serving-engine presets: the scheduler and memory defaults TensorRT-LLM, vLLM and SGLang ship,
each value with where the engine documents or sets it (version named).

    settings = engine_settings("vllm", device, gpus=8)
    settings.scheduler            # SchedulerConfig with the engine's defaults
    settings.memory_rule, settings.memory_share    # how the KV cache is sized (replica.py)
    settings.with_overrides(max_seqs=64)           # any value overridden by its own flag

Some defaults depend on the GPU (vLLM and SGLang pick larger budgets on big-memory GPUs) or on
the GPUs of a replica (SGLang's static memory share); `engine_settings` resolves them for one
device. The engine's fitted kernel profile (`hwspecs/calibration/<device>.<engine>.yaml`) is
picked by `Options(engine=...)`, not here.

NB: CUDA graphs are recorded (which decode batches an engine captures) but not priced apart:
the kernel profiles are fitted on kernels replayed in CUDA graphs, so every iteration is priced
as replayed; the extra host launch cost of an uncaptured (eager) iteration is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec, System
from simulator.core.options import Options
from simulator.core.profile import ENGINES
from simulator.parallel.plan import Plan
from simulator.serving.replica import MEMORY_RULES, ReplicaSpec
from simulator.serving.scheduler import SchedulerConfig

GIB = 1024 ** 3

VLLM = "vLLM v0.12.0"   # each source below is of this version
SGLANG = "SGLang v0.5.1"
TRTLLM = "TensorRT-LLM 1.0 (PyTorch backend)"


@dataclass(frozen=True)
class EngineSettings:
    """One engine's defaults resolved for one device, and where each comes from."""

    engine: str
    version: str
    scheduler: SchedulerConfig
    memory_rule: str                     # replica.MEMORY_RULES
    memory_share: float                  # the share that rule applies
    cuda_graph_max_batch: int            # decode batches captured in CUDA graphs
    kv_cache_dtype: str = "auto"         # "auto": the model's dtype (bf16) unless overridden
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.memory_rule not in MEMORY_RULES:
            raise ValueError(f"unknown KV-cache memory rule {self.memory_rule!r}")

    def with_overrides(self, **values) -> EngineSettings:
        """These settings with some values replaced (None leaves a value as the preset has it);
        each replaced value's source says it was set by the user."""
        values = {k: v for k, v in values.items() if v is not None}
        sched = {f.name for f in fields(SchedulerConfig)}
        own = {"memory_rule", "memory_share", "cuda_graph_max_batch", "kv_cache_dtype"}
        unknown = set(values) - sched - own
        if unknown:
            raise ValueError(f"unknown engine setting(s) {', '.join(sorted(unknown))}")
        scheduler = replace(self.scheduler, **{k: v for k, v in values.items() if k in sched})
        sources = {**self.sources, **{k: "set by the user" for k in values}}
        return replace(self, scheduler=scheduler, sources=sources,
                       **{k: v for k, v in values.items() if k in own})

    def table(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows, for printing."""
        s = self.scheduler
        rows = [("max running requests", s.max_seqs, "max_seqs"),
                ("max tokens per iteration", s.max_batched_tokens, "max_batched_tokens"),
                ("chunked prefill", s.chunked_prefill, "chunked_prefill"),
                ("prefill chunk (tokens)", s.chunk, "chunk_size"),
                ("prompts and decodes in one iteration", s.mixes, "mixed"),
                ("KV block (tokens)", s.block_size, "block_size"),
                ("KV-cache memory", f"{self.memory_rule} x {self.memory_share:.3f}",
                 "memory_share"),
                ("CUDA graphs up to batch", self.cuda_graph_max_batch, "cuda_graph_max_batch"),
                ("host overhead per iteration", f"{s.host_overhead_s * 1e6:g} us",
                 "host_overhead_s"),
                ("KV reserved at admission (x output owed)", s.admit_reserve, "admit_reserve"),
                ("KV-cache dtype", self.kv_cache_dtype, "kv_cache_dtype")]
        return [(name, str(value), self.sources.get(key, "")) for name, value, key in rows]

    def as_dict(self) -> dict:
        s = self.scheduler
        return {"engine": self.engine, "version": self.version, "max_seqs": s.max_seqs,
                "max_batched_tokens": s.max_batched_tokens, "chunked_prefill": s.chunked_prefill,
                "chunk_size": s.chunk, "mixed": s.mixes, "block_size": s.block_size,
                "memory_rule": self.memory_rule, "memory_share": self.memory_share,
                "cuda_graph_max_batch": self.cuda_graph_max_batch,
                "host_overhead_s": s.host_overhead_s, "admit_reserve": s.admit_reserve,
                "kv_cache_dtype": self.kv_cache_dtype,
                "sources": dict(self.sources)}


def engine_settings(engine: str, device: DeviceSpec, gpus: int = 1) -> EngineSettings:
    """`engine`'s defaults on `device`, for a replica of `gpus` GPUs."""
    if engine not in _PRESETS:
        raise ValueError(f"no serving preset for engine {engine!r}; use "
                         f"{', '.join(SERVING_ENGINES)}")
    return _PRESETS[engine](device, gpus)


def _vllm(device: DeviceSpec, gpus: int) -> EngineSettings:
    big = device.mem_capacity_bytes >= 70 * GIB and "a100" not in device.name.lower()
    where = ("vllm/engine/arg_utils.py EngineArgs.get_batch_defaults, OpenAI API server: {} "
             "on a GPU with >= 70 GiB that is not an A100, else {}")
    sched = SchedulerConfig(max_seqs=1024 if big else 256,
                            max_batched_tokens=8192 if big else 2048, chunked_prefill=True,
                            block_size=16, mixed=True, host_overhead_s=0.0, admit_reserve=0.0)
    return EngineSettings(
        engine="vllm", version=VLLM, scheduler=sched, memory_rule="total", memory_share=0.9,
        cuda_graph_max_batch=512, sources={
            "max_seqs": where.format("max_num_seqs 1024", "256"),
            "max_batched_tokens": where.format("max_num_batched_tokens 8192", "2048"),
            "chunked_prefill": "the V1 engine always chunks prefills (docs: Optimization and "
                               "Tuning, Chunked Prefill)",
            "chunk_size": "v1/core/sched/scheduler.py: a prompt takes what the budget leaves",
            "mixed": "v1/core/sched/scheduler.py: running decodes first, then prompt chunks, "
                     "in one step",
            "block_size": "vllm/config/cache.py CacheConfig.block_size: 16 on CUDA",
            "memory_share": "CacheConfig.gpu_memory_utilization 0.9: weights, activations "
                            "and KV cache in 90% of the GPU",
            "cuda_graph_max_batch": "CompilationConfig.max_cudagraph_capture_size 512 "
                                    "(min(2 x max_num_seqs, 512))",
            "host_overhead_s": "async scheduling is off by default; vLLM publishes no "
                               "per-step CPU time: 0 (set --host-overhead-us)",
            "kv_cache_dtype": "--kv-cache-dtype auto: the model's dtype",
            "admit_reserve": "v1/core/sched/scheduler.py: a request is admitted when its "
                             "prompt's blocks are free, and the newest running one is "
                             "preempted (recomputed) when a decode finds none"})


def _sglang(device: DeviceSpec, gpus: int) -> EngineSettings:
    mem = device.mem_capacity_bytes
    if mem < 35 * GIB:
        chunk, reserved = 2048, (2.8 + gpus / 10) * GIB
    elif mem < 90 * GIB:
        chunk, reserved = 8192, (9.5 + gpus / 2) * GIB
    elif mem < 160 * GIB:
        chunk, reserved = 8192, (12 + gpus / 2) * GIB
    else:
        chunk, reserved = 16384, 32 * GIB
    share = round(max(mem - reserved, 0.05 * mem) / mem, 3)
    sched = SchedulerConfig(max_seqs=2048, max_batched_tokens=chunk, chunked_prefill=True,
                            block_size=1, mixed=False, host_overhead_s=0.0, admit_reserve=0.7)
    args = "server_args.py ServerArgs.__post_init__: "
    return EngineSettings(
        engine="sglang", version=SGLANG, scheduler=sched, memory_rule="static",
        memory_share=share, cuda_graph_max_batch=160, sources={
            "max_seqs": "model_runner.py: max_running_requests unset, the request pool's "
                        "size (2048 to 4096 requests); 2048",
            "max_batched_tokens": args + "chunked_prefill_size 2048 below 35 GB, 8192 below "
                                         "160 GB, else 16384; it caps a prefill batch too",
            "chunked_prefill": args + "chunked prefill on (chunked_prefill_size > 0)",
            "chunk_size": args + "chunked_prefill_size",
            "mixed": "enable_mixed_chunk off by default: prefill batches run apart from decode "
                     "batches",
            "block_size": "page_size 1 by default",
            "memory_share": args + "mem_fraction_static = (M - R) / M holds weights and KV "
                                   "cache; R = (9.5 + tp x pp / 2) GiB on 35-90 GB GPUs, "
                                   "(12 + tp x pp / 2) GiB to 160 GB, 32 GiB above",
            "cuda_graph_max_batch": args + "cuda_graph_max_bs 160 on H100-class GPUs",
            "host_overhead_s": "the overlap scheduler (default since v0.4) hides the CPU "
                               "work behind the GPU",
            "kv_cache_dtype": "kv_cache_dtype auto: the model's dtype",
            "admit_reserve": "global_config.py default_init_new_token_ratio 0.7: admission "
                             "keeps room for 0.7 x the running requests' remaining output "
                             "(NB: it decays to 0.098 over 600 steps without a retraction; "
                             "the decay is left out)"})


def _trtllm(device: DeviceSpec, gpus: int) -> EngineSettings:
    sched = SchedulerConfig(max_seqs=2048, max_batched_tokens=8192, chunked_prefill=False,
                            block_size=32, mixed=True, host_overhead_s=0.0, admit_reserve=1.0)
    args = "tensorrt_llm/llmapi/llm_args.py "
    return EngineSettings(
        engine="trtllm", version=TRTLLM, scheduler=sched, memory_rule="free",
        memory_share=0.9, cuda_graph_max_batch=128, sources={
            "max_seqs": args + "BaseLlmArgs.max_batch_size 2048",
            "max_batched_tokens": args + "BaseLlmArgs.max_num_tokens 8192",
            "chunked_prefill": args + "TorchLlmArgs.enable_chunked_prefill False",
            "chunk_size": "no chunking: a prompt runs whole",
            "mixed": "in-flight batching: context and generation requests in one iteration "
                     "(docs: In-flight Batching)",
            "block_size": args + "KvCacheConfig.tokens_per_block 32",
            "memory_share": args + "KvCacheConfig.free_gpu_memory_fraction 0.9 of the memory "
                                   "free once the model is loaded",
            "cuda_graph_max_batch": args + "cuda_graph_config CudaGraphConfig(): decode-only "
                                           "batches 1-31, 32, 64, 128",
            "host_overhead_s": args + "TorchLlmArgs.disable_overlap_scheduler False: the "
                                      "overlap scheduler hides the CPU work",
            "kv_cache_dtype": args + "KvCacheConfig.dtype auto: the checkpoint's (bf16 "
                                     "without a KV quantization)",
            "admit_reserve": args + "SchedulerConfig.capacity_scheduler_policy "
                                    "GUARANTEED_NO_EVICT: a request starts only once the KV "
                                    "cache holds every running one to its end"})


_PRESETS = {"trtllm": _trtllm, "vllm": _vllm, "sglang": _sglang}
SERVING_ENGINES = tuple(_PRESETS)
assert set(SERVING_ENGINES) <= set(ENGINES), "a serving engine profile.ENGINES does not name"


def replica_setup(model: str, system: System, plan: Plan, options: Options,
                  overrides: Mapping[str, object] | None = None, kv_auto: bool = True
                  ) -> tuple[ReplicaSpec, SchedulerConfig, EngineSettings | None]:
    """The replica and scheduler a serving run uses: `options.engine`'s preset when it has
    one (with `overrides` on top; `kv_auto`: the KV cache in the engine's "auto" dtype, the
    model's bf16), else archsim's scheduler defaults with the overrides."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if options.engine not in _PRESETS:
        share = overrides.pop("memory_share", 0.9)
        rule = overrides.pop("memory_rule", "total")
        for key in ("cuda_graph_max_batch", "kv_cache_dtype"):
            overrides.pop(key, None)
        return (ReplicaSpec(model, system, plan, options, memory_utilization=share,
                            memory_rule=rule), replace(SchedulerConfig(), **overrides), None)
    settings = engine_settings(options.engine, system.device, plan.tp * plan.pp) \
        .with_overrides(**overrides)
    if kv_auto and settings.kv_cache_dtype == "auto":
        options = replace(options, precision=replace(options.precision, kv_cache=DType.BF16))
    spec = ReplicaSpec(model, system, plan, options, memory_utilization=settings.memory_share,
                       memory_rule=settings.memory_rule)
    return spec, settings.scheduler, settings
