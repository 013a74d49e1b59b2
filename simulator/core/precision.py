"""Precision what-ifs: weights, activations (the compute format) and KV cache each in their own
format, three separate axes.

A precision is written as its compute format (`fp8`), a named precision (`w4a16`), or either
with the other axes set apart: `fp8/w=fp8/kv=bf16`, `bf16/w=int4`. `Precision.spec` writes
the shortest form that parses back to the same precision.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.dtypes import DType

# Compute formats a KV cache follows by default; below 16 bits it stays in bf16 unless asked.
# NB: as vLLM's `--kv-cache-dtype auto` (the model's dtype, bf16 for an FP8-quantized
# checkpoint), SGLang's and TensorRT-LLM's KvCacheConfig dtype `auto`: FP8 weights and
# compute leave the KV cache in bf16; an FP8 cache is its own choice (`kv=fp8`).
_KV_FOLLOWS = (DType.FP32, DType.BF16, DType.FP16)


def default_kv(compute: DType) -> DType:
    """The KV-cache format when none is asked for: the compute format if 16 bits or wider,
    else bf16."""
    return compute if compute in _KV_FOLLOWS else DType.BF16


@dataclass(frozen=True)
class Precision:
    """`activations` is also the format the matrix units compute in (W4A16 computes in bf16,
    FP8 W8A8 in fp8). `sparse` runs weight GEMMs with 2:4 structured sparsity."""

    weights: DType = DType.BF16
    activations: DType = DType.BF16
    kv_cache: DType = DType.BF16
    sparse: bool = False

    @classmethod
    def parse(cls, dtype: str | Precision = "bf16", weights: str | None = None,
              kv: str | None = None, sparse: bool = False) -> Precision:
        """`dtype` is a compute format (weights in it too, the KV cache as `default_kv`), a
        named precision (`NAMED`: its weight and compute formats), or either followed by
        `/w=FORMAT` and `/kv=FORMAT`; `weights` and `kv` override one axis (they win over the
        text's). A `Precision` is returned as it is."""
        if isinstance(dtype, Precision):
            return dtype
        text = str(dtype).strip().lower()
        head, *axes = [part.strip() for part in text.split("/")]
        for axis in axes:
            key, sep, value = axis.partition("=")
            if not sep or key.strip() not in ("w", "kv") or not value.strip():
                raise ValueError(f"precision {dtype!r}: {axis!r} is not w=FORMAT or kv=FORMAT "
                                 "(e.g. fp8/w=fp8/kv=bf16)")
            if key.strip() == "w":
                weights = weights or value.strip()
            else:
                kv = kv or value.strip()
        named = NAMED.get(head)
        if named is not None:
            own_weights, base = named
        else:
            try:
                base = DType.parse(head)
            except ValueError as exc:
                raise ValueError(f"{exc}; or a named precision: {', '.join(NAMED)}") from None
            own_weights = base
        return cls(weights=DType.parse(weights) if weights else own_weights, activations=base,
                   kv_cache=DType.parse(kv) if kv else default_kv(base), sparse=sparse)

    @property
    def label(self) -> str:
        parts = [f"W{self.weights.value}", f"A{self.activations.value}",
                 f"KV{self.kv_cache.value}"]
        return "/".join(parts) + (" 2:4" if self.sparse else "")

    @property
    def spec(self) -> str:
        """The shortest text `parse` reads back as this precision (2:4 sparsity aside):
        `fp8`, `w4a16`, `fp8/kv=fp8`, `bf16/w=int4`."""
        head = self.activations.value
        for name, (w, a) in NAMED.items():
            if a is self.activations and w is self.weights:
                head = name
        parts = [head]
        if self.weights is not NAMED.get(head, (self.activations,))[0]:
            parts.append(f"w={self.weights.value}")
        if self.kv_cache is not default_kv(self.activations):
            parts.append(f"kv={self.kv_cache.value}")
        return "/".join(parts)

    @classmethod
    def combinations(cls, computes, weights=(None,), kvs=(None,)) -> tuple[str, ...]:
        """Every compute x weights x KV combination, as `spec` texts, each once; None (or
        "same", "auto") leaves an axis at its default."""
        out: list[str] = []
        for d in computes:
            for w in weights or (None,):
                for k in kvs or (None,):
                    spec = cls.parse(d, weights=_axis(w), kv=_axis(k)).spec
                    if spec not in out:
                        out.append(spec)
        return tuple(out)

    @property
    def attention(self) -> DType:
        """The format attention computes in: the KV cache's where it is wider than the
        activations (FP8 GEMMs beside a BF16 cache run BF16 attention, as FlashAttention and
        TensorRT-LLM's FMHA do: an FP8 kernel needs an FP8 cache), else the activations'
        (a narrower cache is widened in the kernel)."""
        kv, act = self.kv_cache, self.activations
        return kv if kv.bits > act.bits else act

    def weight_bytes_per_element(self) -> float:
        """Storage per weight; 2:4 sparsity keeps half the values plus 2 bits of index each."""
        if not self.sparse:
            return self.weights.bytes
        return 0.5 * (self.weights.bits + 2) / 8


def _axis(value: str | None) -> str | None:
    return None if value is None or str(value).strip().lower() in ("same", "auto") else value


# Named precisions: name -> (weight format, compute format). As TensorRT-LLM's QuantAlgo
# names them (tensorrt_llm/quantization/mode.py): W4A16_AWQ / W4A16_GPTQ keep INT4 weights
# and compute in bf16; W4A8_AWQ keeps INT4 weights and computes in FP8 (Hopper and Ada
# have the FP8 tensor cores for it). `--weights-dtype mxfp4` gives the MXFP4 variants
# (W4A16_MXFP4, W4A8_MXFP4_FP8).
NAMED: dict[str, tuple[DType, DType]] = {
    "w4a16": (DType.INT4, DType.BF16),
    "w4a8": (DType.INT4, DType.FP8),
}
