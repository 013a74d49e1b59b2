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
        """`dtype` is a format (weights, activations and KV in it) or a named precision
        (`NAMED`: its weight and compute formats, the KV cache in the compute format);
        `weights` and `kv` override one side."""
        named = NAMED.get(str(dtype).strip().lower())
        if named is not None:
            own_weights, base = named
        else:
            try:
                base = DType.parse(dtype)
            except ValueError as exc:
                raise ValueError(f"{exc}; or a named precision: {', '.join(NAMED)}") from None
            own_weights = base
        return cls(weights=DType.parse(weights) if weights else own_weights, activations=base,
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


# Named precisions: name -> (weight format, compute format). As TensorRT-LLM's QuantAlgo
# names them (tensorrt_llm/quantization/mode.py): W4A16_AWQ / W4A16_GPTQ keep INT4 weights
# and compute in bf16; W4A8_AWQ keeps INT4 weights and computes in FP8 (Hopper and Ada
# have the FP8 tensor cores for it). `--weights-dtype mxfp4` gives the MXFP4 variants
# (W4A16_MXFP4, W4A8_MXFP4_FP8).
NAMED: dict[str, tuple[DType, DType]] = {
    "w4a16": (DType.INT4, DType.BF16),
    "w4a8": (DType.INT4, DType.FP8),
}
