"""What an eager call really runs: its kernels and the bytes each one moves.

A fused kernel reads its inputs and writes its outputs once; an eager chain (silu then mul, or
the composite rms_norm torch runs on a CPU) also writes and re-reads its intermediates, and
the clock sees those passes when they spill out of the last-level cache. `count_chain(fn)`
runs `fn` once under a dispatch mode and adds up each aten kernel's tensor inputs (read) and
outputs (written). Views and allocations move nothing; an `out=` buffer or a copy's
destination is written, not read; a tensor touched earlier in the chain that fits in the cache
is read from it, and an intermediate that fits in it is never written back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

_ALLOCATIONS = {"empty", "empty_like", "empty_strided"}


@dataclass(frozen=True)
class Chain:
    launches: int
    read_bytes: float
    write_bytes: float
    kernels: tuple[str, ...]


def _tensors(values) -> list[torch.Tensor]:
    return [t for t in tree_leaves(values) if isinstance(t, torch.Tensor)]


def _nbytes(t: torch.Tensor) -> float:
    return float(t.numel() * t.element_size())


def _key(t: torch.Tensor) -> tuple[int, int]:
    return t.untyped_storage().data_ptr(), t.storage_offset()


class _Counter(TorchDispatchMode):
    def __init__(self, cache_bytes: float) -> None:
        super().__init__()
        self.cache_bytes = cache_bytes
        self.kernels: list[str] = []
        self.read = 0.0
        self.written: dict[tuple[int, int], float] = {}   # bytes written per output
        self.seen: set[tuple[int, int]] = set()            # tensors already read or written

    def _cached(self, t: torch.Tensor) -> bool:
        return _key(t) in self.seen and _nbytes(t) <= self.cache_bytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = str(func.overloadpacket.__name__)
        if func.is_view or name in _ALLOCATIONS:
            return out
        inputs = args[1:] if name == "copy_" else args
        self.kernels.append(name)
        reads = _tensors((inputs, {k: v for k, v in kwargs.items() if k != "out"}))
        self.read += sum(_nbytes(t) for t in reads if not self._cached(t))
        self.seen.update(_key(t) for t in reads)
        for t in _tensors(out):
            self.written[_key(t)] = self.written.get(_key(t), 0.0) + _nbytes(t)
            self.seen.add(_key(t))
        return out


def count_chain(fn: Callable[[int], object], cache_bytes: float, call: int = 0) -> Chain:
    """The kernels of one call `fn(call)` and their traffic to memory beyond a last-level cache
    of `cache_bytes` (intermediates that fit in it are neither written nor read back)."""
    with _Counter(cache_bytes) as counter:
        result = fn(call)
    final = {_key(t) for t in _tensors(result)}
    written = sum(b for k, b in counter.written.items()
                  if k in final or b > cache_bytes)
    return Chain(launches=len(counter.kernels), read_bytes=counter.read, write_bytes=written,
                 kernels=tuple(counter.kernels))
