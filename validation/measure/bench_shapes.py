"""The benchmark grids: which kernels `archsim bench` times, at which shapes and dtype.

One `Case` is one kernel at one shape. The CPU grid runs in fp32 (bf16 GEMMs are emulated and
slow on most CPUs), the CUDA grid in bf16 with a few fp32 probes so the emitted spec has fp32
peaks too. `quick` grids are small enough for the test suite.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product

# What `archsim bench` times; records may also hold imported measurements of whole MoE layers
# and of collectives (`validation.measure.aiconfigurator`).
BENCH_KERNELS = ("gemm", "grouped_gemm", "attention", "norm", "softmax", "elementwise",
                 "embedding", "copy")
KERNELS = (*BENCH_KERNELS, "moe", "collective")
# Shape parameters a case may carry; every record has all of them (empty where not used).
# moe: a whole MoE layer (routing, experts, combine) of `tokens` tokens; collective: one
# collective of `message_bytes` over `gpus` GPUs.
SHAPE_FIELDS = ("m", "n", "k", "batch", "groups", "heads", "kv_heads", "q_len", "kv_len",
                "head_dim", "causal", "window", "rows", "cols", "vocab", "numel", "tokens",
                "hidden", "inter", "experts", "topk", "moe_tp", "moe_ep", "gpus",
                "message_bytes")
# Text parameters: the KV cache's dtype where it differs, and a MoE layer's routing
# ("balanced", or "power_law_<alpha>" as aiconfigurator names them).
TEXT_FIELDS = ("kv_dtype", "distribution")


@dataclass(frozen=True)
class Case:
    """One kernel at one shape. `op` names the torch call (see `bench_kernels`)."""

    kernel: str
    op: str
    dtype: str                  # archsim dtype name: fp32, bf16, ...
    m: int | None = None
    n: int | None = None
    k: int | None = None
    batch: int | None = None
    groups: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    q_len: int | None = None
    kv_len: int | None = None
    head_dim: int | None = None
    causal: bool | None = None
    rows: int | None = None
    cols: int | None = None
    vocab: int | None = None
    numel: int | None = None
    window: int | None = None          # sliding-window attention: keys each query sees
    kv_dtype: str | None = None        # attention: the KV cache's dtype (default: dtype)
    tokens: int | None = None
    hidden: int | None = None
    inter: int | None = None
    experts: int | None = None
    topk: int | None = None
    moe_tp: int | None = None
    moe_ep: int | None = None
    distribution: str | None = None
    gpus: int | None = None
    message_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.kernel not in KERNELS:
            raise ValueError(f"unknown kernel class {self.kernel!r} (known: {', '.join(KERNELS)})")
        values = self.__dict__
        for name in _COUNT_FIELDS:
            value = values[name]
            if value is not None and value < 1:
                raise ValueError(f"case {self.op}: {name} must be at least 1, not {value}")
        if self.causal and self.q_len not in (None, 1, self.kv_len):
            raise ValueError(f"case {self.op}: causal attention of {self.q_len} queries over "
                             f"{self.kv_len} keys needs a bottom-right mask torch's is_causal "
                             "does not give")

    def shape(self) -> dict[str, int | bool | str | None]:
        return {name: getattr(self, name) for name in (*SHAPE_FIELDS, *TEXT_FIELDS)}

    def label(self) -> str:
        used = ", ".join(f"{k}={v}" for k, v in self.shape().items() if v is not None)
        return f"{self.op}[{self.dtype}]({used})"


_COUNT_FIELDS = tuple(f.name for f in fields(Case) if f.type == "int | None")


@dataclass(frozen=True)
class GridSizes:
    """The numbers a grid is built from; the CPU and CUDA grids differ only in these."""

    square: tuple[int, ...]                 # M = N = K
    tokens: tuple[int, ...]                 # M of prefill-like GEMMs
    weights: tuple[tuple[int, int], ...]    # (N, K) of weight matrices
    decode_m: tuple[int, ...]               # skinny M of decode GEMMs
    wave_n: tuple[int, ...]                 # an N sweep at fixed M, K (tile/wave quantization)
    wave_mk: int
    bmm: tuple[tuple[int, int, int, int], ...]      # (batch, M, N, K)
    grouped: tuple[tuple[int, int, int, int], ...]  # (groups, total M, N, K)
    prefill: tuple[tuple[int, int, int, int, int], ...]  # (B, H, Hkv, S, d), causal
    decode: tuple[tuple[int, int, int, int, int], ...]   # (B, H, Hkv, L, d), q_len 1
    norm: tuple[tuple[int, int], ...]        # (rows, hidden)
    softmax: tuple[tuple[int, int], ...]     # (rows, cols)
    elementwise: tuple[int, ...]             # numel
    embedding: tuple[tuple[int, int, int], ...]  # (tokens, hidden, vocab)
    copy: tuple[int, ...]                    # numel


CPU_FULL = GridSizes(
    square=(64, 128, 256, 512, 768, 1024, 1536, 2048),
    tokens=(16, 128, 512, 2048),
    weights=((1024, 1024), (4096, 1024), (1024, 4096), (2048, 2048)),
    decode_m=(1, 2, 4, 8, 16, 32, 64),
    wave_n=(96, 192, 384, 640, 1000, 1536),
    wave_mk=512,
    bmm=((8, 128, 128, 64), (32, 256, 256, 64), (16, 512, 512, 128), (4, 1024, 1024, 1024)),
    grouped=((8, 256, 1024, 512), (8, 1024, 1024, 1024), (32, 1024, 512, 1024),
             (64, 64, 1024, 1024)),
    prefill=((1, 8, 8, 128, 64), (1, 16, 4, 512, 64), (1, 32, 8, 512, 128),
             (1, 16, 4, 1024, 128), (2, 8, 2, 2048, 64), (1, 32, 8, 2048, 128)),
    decode=((1, 32, 8, 512, 128), (1, 32, 8, 4096, 128), (8, 32, 8, 1024, 128),
            (8, 32, 8, 4096, 128), (32, 32, 8, 1024, 128), (4, 16, 16, 2048, 64)),
    norm=((1, 4096), (32, 4096), (512, 1024), (512, 4096), (2048, 4096), (4096, 8192)),
    softmax=((1024, 128), (4096, 1024), (512, 4096), (64, 32000), (8, 128256)),
    elementwise=(1, 4096, 65536, 1 << 20, 1 << 23, 1 << 25),
    embedding=((1, 4096, 32000), (32, 4096, 32000), (512, 1024, 32000), (4096, 2048, 32000),
               (8192, 4096, 32000)),
    copy=(1, 1 << 16, 1 << 20, 1 << 23, 1 << 26),
)

CPU_QUICK = GridSizes(
    square=(128, 256, 512),
    tokens=(64,),
    weights=((1024, 1024),),
    decode_m=(1, 16),
    wave_n=(),
    wave_mk=256,
    bmm=((8, 128, 128, 64),),
    grouped=((4, 256, 512, 256),),
    prefill=((1, 8, 2, 256, 64),),
    decode=((4, 8, 2, 1024, 64),),
    norm=((256, 1024),),
    softmax=((512, 512),),
    elementwise=(1, 1 << 20),
    embedding=((256, 1024, 8000),),
    copy=(1, 1 << 23),
)

CUDA_FULL = GridSizes(
    square=(256, 512, 1024, 2048, 3072, 4096, 6144, 8192),
    tokens=(128, 512, 2048, 8192),
    weights=((4096, 4096), (14336, 4096), (4096, 14336), (8192, 8192), (28672, 8192),
             (8192, 28672), (128256, 4096)),
    decode_m=(1, 2, 4, 8, 16, 32, 64),
    wave_n=tuple(range(1792, 4353, 256)) + (4224, 4480),
    wave_mk=4096,
    bmm=((32, 512, 512, 128), (64, 1024, 1024, 128), (16, 2048, 2048, 2048),
         (128, 256, 256, 64)),
    grouped=((8, 2048, 14336, 4096), (8, 16384, 14336, 4096), (8, 16384, 4096, 14336),
             (64, 4096, 2048, 7168), (128, 32768, 768, 2048), (256, 8192, 2048, 7168)),
    prefill=((1, 32, 8, 512, 128), (1, 32, 8, 2048, 128), (1, 32, 8, 8192, 128),
             (4, 32, 8, 4096, 128), (8, 16, 16, 1024, 64), (1, 64, 8, 4096, 128),
             (1, 128, 8, 16384, 128)),
    decode=((1, 32, 8, 2048, 128), (1, 32, 8, 32768, 128), (16, 32, 8, 4096, 128),
            (64, 32, 8, 2048, 128), (128, 64, 8, 4096, 128), (256, 32, 8, 8192, 128),
            (32, 128, 8, 32768, 128)),
    norm=((1, 4096), (64, 8192), (2048, 4096), (8192, 8192), (32768, 4096), (16384, 16384)),
    softmax=((4096, 1024), (8192, 8192), (256, 128256), (2048, 32000)),
    elementwise=(1, 65536, 1 << 20, 1 << 24, 1 << 27, 1 << 28),
    embedding=((1, 4096, 128256), (64, 8192, 128256), (8192, 4096, 128256),
               (65536, 8192, 128256)),
    copy=(1, 1 << 20, 1 << 24, 1 << 27, 1 << 29, 1 << 30),
)

CUDA_QUICK = GridSizes(
    square=(1024, 4096),
    tokens=(512,),
    weights=((4096, 4096),),
    decode_m=(1, 32),
    wave_n=(),
    wave_mk=4096,
    bmm=((32, 512, 512, 128),),
    grouped=((8, 2048, 4096, 1024),),
    prefill=((1, 32, 8, 2048, 128),),
    decode=((16, 32, 8, 4096, 128),),
    norm=((2048, 4096),),
    softmax=((4096, 1024),),
    elementwise=(1, 1 << 24),
    embedding=((8192, 4096, 128256),),
    copy=(1, 1 << 28),
)


def build_grid(sizes: GridSizes, dtype: str) -> list[Case]:
    """Every kernel class at the shapes `sizes` names, in one dtype."""
    return (_gemms(sizes, dtype) + _attention(sizes, dtype) + _vector(sizes, dtype)
            + _memory(sizes, dtype))


def _gemms(s: GridSizes, dtype: str) -> list[Case]:
    shapes = [(d, d, d) for d in s.square]
    shapes += [(m, n, k) for m, (n, k) in product(s.tokens, s.weights)]
    shapes += [(m, n, k) for m, (n, k) in product(s.decode_m, s.weights)]
    shapes += [(s.wave_mk, n, s.wave_mk) for n in s.wave_n]
    cases = [Case("gemm", "mm", dtype, m=m, n=n, k=k, batch=1)
             for m, n, k in dict.fromkeys(shapes)]
    cases += [Case("gemm", "bmm", dtype, m=m, n=n, k=k, batch=b) for b, m, n, k in s.bmm]
    cases += [Case("grouped_gemm", "grouped_mm", dtype, m=m, n=n, k=k, groups=g)
              for g, m, n, k in s.grouped]
    return cases


def _attention(s: GridSizes, dtype: str) -> list[Case]:
    cases = [Case("attention", "sdpa_prefill", dtype, batch=b, heads=h, kv_heads=hkv, q_len=t,
                  kv_len=t, head_dim=d, causal=True) for b, h, hkv, t, d in s.prefill]
    cases += [Case("attention", "sdpa_decode", dtype, batch=b, heads=h, kv_heads=hkv, q_len=1,
                   kv_len=t, head_dim=d, causal=False) for b, h, hkv, t, d in s.decode]
    return cases


def _vector(s: GridSizes, dtype: str) -> list[Case]:
    cases = [Case("norm", op, dtype, rows=r, cols=c)
             for r, c in s.norm for op in ("rms_norm", "layer_norm")]
    cases += [Case("softmax", "softmax", dtype, rows=r, cols=c) for r, c in s.softmax]
    cases += [Case("elementwise", op, dtype, numel=n)
              for n in s.elementwise for op in ("add", "silu_mul")]
    return cases


def _memory(s: GridSizes, dtype: str) -> list[Case]:
    cases = [Case("embedding", "embedding", dtype, rows=t, cols=h, vocab=v)
             for t, h, v in s.embedding]
    cases += [Case("copy", "copy", dtype, numel=n) for n in s.copy]
    return cases


def _fp32_probes(sizes: GridSizes) -> list[Case]:
    """A few fp32 GEMM and elementwise cases, so a bf16 grid still yields fp32 peaks."""
    big = max(sizes.square)
    cases = [Case("gemm", "mm", "fp32", m=d, n=d, k=d, batch=1)
             for d in sorted({min(sizes.square), big // 2, big})]
    cases += [Case("elementwise", "add", "fp32", numel=max(sizes.elementwise))]
    return cases


def grid_for(device: str, quick: bool) -> list[Case]:
    """The grid `archsim bench` runs on `device` ('cpu' or 'cuda')."""
    if device == "cpu":
        return build_grid(CPU_QUICK if quick else CPU_FULL, "fp32")
    if device == "cuda":
        sizes = CUDA_QUICK if quick else CUDA_FULL
        return build_grid(sizes, "bf16") + _fp32_probes(sizes)
    raise ValueError(f"unknown device {device!r}; choose cpu or cuda")
