"""Torch calls for each benchmark op, on random tensors rotated over several buffer sets.

`make_kernel(case, device, sets)` allocates `sets` independent copies of the inputs (and of
the outputs where torch takes `out=`) and returns `fn(i)`, which runs call i on set i % sets,
so a call never finds the previous call's inputs in cache. Inputs are uniform in [-1, 1):
never zeros, which some hardware runs faster. Imports torch: only `validation.measure.bench` uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from validation.measure.bench_shapes import Case

TORCH_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SEED = 0


@dataclass(frozen=True)
class Kernel:
    fn: Callable[[int], object]
    impl: str                    # the torch call timed, e.g. "torch.mm", "mm loop"
    launches: int | None = None  # kernel launches per call where the op's usual count is off


def make_kernel(case: Case, device: str, sets: int) -> Kernel:
    build = _BUILDERS.get(case.op)
    if build is None:
        raise ValueError(f"no torch implementation for benchmark op {case.op!r}")
    gen = torch.Generator(device=device).manual_seed(SEED)
    return build(case, _Alloc(device, TORCH_DTYPES[case.dtype], gen), sets)


class _Alloc:
    def __init__(self, device: str, dtype: torch.dtype, gen: torch.Generator) -> None:
        self.device, self.dtype, self.gen = device, dtype, gen

    def rand(self, *shape: int) -> torch.Tensor:
        t = torch.empty(shape, dtype=self.dtype, device=self.device)
        return t.uniform_(-1.0, 1.0, generator=self.gen)

    def empty(self, *shape: int) -> torch.Tensor:
        return torch.empty(shape, dtype=self.dtype, device=self.device)

    def ids(self, count: int, high: int) -> torch.Tensor:
        return torch.randint(0, high, (count,), generator=self.gen, device=self.device)


def _rotate(sets: list, call: Callable) -> Callable[[int], object]:
    n = len(sets)
    return lambda i: call(*sets[i % n])


def _mm(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.m, c.k), a.rand(c.k, c.n), a.empty(c.m, c.n)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda x, w, out: torch.mm(x, w, out=out)), "torch.mm")


def _bmm(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.batch, c.m, c.k), a.rand(c.batch, c.k, c.n), a.empty(c.batch, c.m, c.n))
            for _ in range(sets)]
    return Kernel(_rotate(data, lambda x, w, out: torch.bmm(x, w, out=out)), "torch.bmm")


def _group_offsets(rows: int, groups: int, device: str) -> tuple[torch.Tensor, list[int]]:
    """Rows split as evenly as possible over the groups (the first ones get one more)."""
    sizes = [rows // groups + (1 if g < rows % groups else 0) for g in range(groups)]
    ends = torch.tensor(sizes, dtype=torch.int32).cumsum(0).tolist()
    return torch.tensor(ends, dtype=torch.int32, device=device), [0, *ends]


def _grouped_mm(c: Case, a: _Alloc, sets: int) -> Kernel:
    offs, bounds = _group_offsets(c.m, c.groups, a.device)
    # Weights stored [groups, N, K] and passed transposed, as transformers' grouped_mm does.
    data = [(a.rand(c.m, c.k), a.rand(c.groups, c.n, c.k).transpose(-2, -1))
            for _ in range(sets)]
    try:
        torch._grouped_mm(data[0][0], data[0][1], offs=offs)
        call = _rotate(data, lambda x, w: torch._grouped_mm(x, w, offs=offs))
        return Kernel(call, "torch._grouped_mm")
    except (RuntimeError, NotImplementedError, AttributeError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
    outs = [(x, w, a.empty(c.m, c.n)) for x, w in data]

    def loop(x: torch.Tensor, w: torch.Tensor, out: torch.Tensor) -> None:
        for g in range(c.groups):
            rs = slice(bounds[g], bounds[g + 1])
            torch.mm(x[rs], w[g], out=out[rs])

    return Kernel(_rotate(outs, loop), f"mm loop (torch._grouped_mm failed: {reason})",
                  launches=c.groups)


def _sdpa(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.batch, c.heads, c.q_len, c.head_dim),
             a.rand(c.batch, c.kv_heads, c.kv_len, c.head_dim),
             a.rand(c.batch, c.kv_heads, c.kv_len, c.head_dim)) for _ in range(sets)]
    gqa = c.heads != c.kv_heads
    # torch's causal mask is top-left aligned: only q == kv is the causal self-attention
    # meant; a decode query (q = 1) sees the whole cache.
    causal = bool(c.causal) and c.q_len == c.kv_len

    def call(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)

    return Kernel(_rotate(data, call), "F.scaled_dot_product_attention"
                  + (" (enable_gqa)" if gqa else ""))


def _rms_norm(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.rows, c.cols), a.rand(c.cols)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda x, w: F.rms_norm(x, (c.cols,), w, eps=1e-6)),
                  "F.rms_norm")


def _layer_norm(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.rows, c.cols), a.rand(c.cols), a.rand(c.cols)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda x, w, b: F.layer_norm(x, (c.cols,), w, b, eps=1e-5)),
                  "F.layer_norm")


def _softmax(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.rows, c.cols),) for _ in range(sets)]
    return Kernel(_rotate(data, lambda x: torch.softmax(x, dim=-1)), "torch.softmax")


def _add(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.numel), a.rand(c.numel), a.empty(c.numel)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda x, y, out: torch.add(x, y, out=out)), "torch.add")


def _silu_mul(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.numel), a.rand(c.numel), a.empty(c.numel)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda g, u, out: torch.mul(F.silu(g), u, out=out)),
                  "F.silu then torch.mul")


def _embedding(c: Case, a: _Alloc, sets: int) -> Kernel:
    # NB: the table is shared by all sets; fresh random ids gather uncached rows anyway.
    table = a.rand(c.vocab, c.cols)
    data = [(a.ids(c.rows, c.vocab),) for _ in range(sets)]
    return Kernel(_rotate(data, lambda ids: F.embedding(ids, table)), "F.embedding")


def _copy(c: Case, a: _Alloc, sets: int) -> Kernel:
    data = [(a.rand(c.numel), a.empty(c.numel)) for _ in range(sets)]
    return Kernel(_rotate(data, lambda src, dst: dst.copy_(src)), "Tensor.copy_")


_BUILDERS = {
    "mm": _mm, "bmm": _bmm, "grouped_mm": _grouped_mm,
    "sdpa_prefill": _sdpa, "sdpa_decode": _sdpa,
    "rms_norm": _rms_norm, "layer_norm": _layer_norm, "softmax": _softmax,
    "add": _add, "silu_mul": _silu_mul, "embedding": _embedding, "copy": _copy,
}
