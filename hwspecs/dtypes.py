"""Number formats: the one table of names and storage bits."""

from __future__ import annotations

import enum


class DType(enum.Enum):
    """A number format, named as in specs and on the command line."""

    FP64 = "fp64"
    FP32 = "fp32"
    TF32 = "tf32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    FP8_BLOCK = "fp8_block"   # fp8 with a scale per block (DeepSeek-V3's 1x128 / 128x128)
    FP6 = "fp6"
    FP4 = "fp4"
    INT8 = "int8"
    INT4 = "int4"
    INT64 = "int64"
    INT32 = "int32"
    BOOL = "bool"

    @property
    def bits(self) -> int:
        return self._bits

    @property
    def bytes(self) -> float:
        """Storage bytes per element; a float, since int4 and fp4 take half a byte."""
        return self._bits / 8

    @property
    def matrix_format(self) -> DType:
        """The format whose matrix-unit peak this one runs at (a block-scaled fp8 GEMM runs
        on the fp8 tensor cores)."""
        return self._matrix_format

    @classmethod
    def parse(cls, name: str) -> DType:
        try:
            return cls(name.strip().lower())
        except ValueError:
            known = ", ".join(d.value for d in cls)
            raise ValueError(f"unknown dtype {name!r}; known dtypes: {known}") from None


# NB: tf32 is stored in 32 bits; its 19-bit format only matters to the matrix unit.
_BITS = {
    DType.FP64: 64, DType.FP32: 32, DType.TF32: 32, DType.BF16: 16, DType.FP16: 16,
    DType.FP8: 8, DType.FP8_BLOCK: 8, DType.FP6: 6, DType.FP4: 4, DType.INT8: 8, DType.INT4: 4,
    DType.INT64: 64, DType.INT32: 32, DType.BOOL: 8,
}

# Formats a matrix unit can be quoted for in a spec (the order is the display order).
MATRIX_DTYPES = (DType.FP64, DType.FP32, DType.TF32, DType.BF16, DType.FP16, DType.FP8,
                 DType.FP6, DType.FP4, DType.INT8, DType.INT4)
VECTOR_DTYPES = (DType.FP64, DType.FP32, DType.BF16, DType.FP16)
# NB: fp8_block's scales (one fp32 per 128 elements, 0.25 bits each) are left out of its bits.
_MATRIX_FORMAT = {DType.FP8_BLOCK: DType.FP8}
for _dtype in DType:
    # Read on every priced kernel: plain attributes.
    _dtype._bits = _BITS[_dtype]
    _dtype._matrix_format = _MATRIX_FORMAT.get(_dtype, _dtype)
