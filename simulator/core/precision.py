"""Precision what-ifs: weights, activations and KV cache each in their own format."""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.dtypes import DType


@dataclass(frozen=True)
class Precision:
    """`activations` is also the format the matrix units compute in (W4A16 computes in bf16,
    FP8 W8A8 in fp8). `sparse` runs weight GEMMs with 2:4 structured sparsity."""

    weights: DType = DType.BF16
    activations: DType = DType.BF16
    kv_cache: DType = DType.BF16
    sparse: bool = False

    @classmethod
    def parse(cls, dtype: str = "bf16", weights: str | None = None, kv: str | None = None,
              sparse: bool = False) -> Precision:
        base = DType.parse(dtype)
        return cls(weights=DType.parse(weights) if weights else base, activations=base,
                   kv_cache=DType.parse(kv) if kv else base, sparse=sparse)

    @property
    def label(self) -> str:
        parts = [f"W{self.weights.value}", f"A{self.activations.value}",
                 f"KV{self.kv_cache.value}"]
        return "/".join(parts) + (" 2:4" if self.sparse else "")

    def weight_bytes_per_element(self) -> float:
        """Storage per weight; 2:4 sparsity keeps half the values plus 2 bits of index each."""
        if not self.sparse:
            return self.weights.bytes
        return 0.5 * (self.weights.bits + 2) / 8
