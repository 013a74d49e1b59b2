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
    DType.FP8: 8, DType.FP6: 6, DType.FP4: 4, DType.INT8: 8, DType.INT4: 4,
    DType.INT64: 64, DType.INT32: 32, DType.BOOL: 8,
}

# Formats a matrix unit can be quoted for in a spec (the order is the display order).
MATRIX_DTYPES = (DType.FP64, DType.FP32, DType.TF32, DType.BF16, DType.FP16, DType.FP8,
                 DType.FP6, DType.FP4, DType.INT8, DType.INT4)
VECTOR_DTYPES = (DType.FP64, DType.FP32, DType.BF16, DType.FP16)
for _dtype in DType:
    _dtype._bits = _BITS[_dtype]   # read on every priced kernel: a plain attribute
