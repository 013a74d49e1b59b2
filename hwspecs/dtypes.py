"""Number formats: the one table of names and storage bits.

Block-scaled formats store a shared scale per block of elements, and their bits count it:
- nvfp4 (NVIDIA): E2M1 values with an FP8 E4M3 scale per 16, 4 + 8/16 = 4.5 bits (plus one
  fp32 scale per tensor, left out); NVIDIA, "Introducing NVFP4 for Efficient and Accurate
  Low-Precision Inference" (developer blog, 2025-06) and PTX ISA 8.7 `tcgen05.mma`
  `.kind::mxf4nvf4` (scale_vec::4X: a UE4M3 scale per 16 elements).
- mxfp4, mxfp8 (OCP Microscaling Formats (MX) Specification v1.0, 2023-09, section 5): E2M1 or
  E4M3 values with an E8M0 scale per 32, 4 + 8/32 = 4.25 and 8 + 8/32 = 8.25 bits.
Plain fp4 and fp8 carry no scale (a what-if format); fp8_block's scale is left out too.
"""

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
    NVFP4 = "nvfp4"           # E2M1, an E4M3 scale per 16 elements
    MXFP4 = "mxfp4"           # E2M1, an E8M0 scale per 32 elements
    MXFP8 = "mxfp8"           # E4M3, an E8M0 scale per 32 elements
    INT8 = "int8"
    INT4 = "int4"
    INT64 = "int64"
    INT32 = "int32"
    BOOL = "bool"

    @property
    def bits(self) -> float:
        """Storage bits per element, block scales included (4.5 for nvfp4)."""
        return self._bits

    @property
    def block_elements(self) -> int:
        """Elements sharing one scale (0: the format has no block scale in its bits)."""
        return self._block[0]

    @property
    def scale_bits(self) -> int:
        """Bits of each block's scale (0 without one)."""
        return self._block[1]

    @property
    def block_scaled(self) -> bool:
        return self._block[0] > 0

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
    DType.NVFP4: 4, DType.MXFP4: 4, DType.MXFP8: 8,       # element bits; scales added below
}
# (elements per block, bits per scale) of the block-scaled formats
_BLOCKS = {DType.NVFP4: (16, 8), DType.MXFP4: (32, 8), DType.MXFP8: (32, 8)}

# Formats a matrix unit can be quoted for in a spec (the order is the display order).
MATRIX_DTYPES = (DType.FP64, DType.FP32, DType.TF32, DType.BF16, DType.FP16, DType.FP8,
                 DType.FP6, DType.FP4, DType.INT8, DType.INT4, DType.NVFP4, DType.MXFP4,
                 DType.MXFP8)
# Formats a device may state its kernels dequantize from weights alone (W4A16, W4A8).
WEIGHT_ONLY_DTYPES = (DType.NVFP4, DType.MXFP4, DType.MXFP8)
VECTOR_DTYPES = (DType.FP64, DType.FP32, DType.BF16, DType.FP16)
# NB: fp8_block's scales (one fp32 per 128 elements, 0.25 bits each) are left out of its bits.
_MATRIX_FORMAT = {DType.FP8_BLOCK: DType.FP8}
for _dtype in DType:
    # Read on every priced kernel: plain attributes.
    _dtype._block = _BLOCKS.get(_dtype, (0, 0))
    _block, _scale = _dtype._block
    _dtype._bits = _BITS[_dtype] + (_scale / _block if _block else 0)
    _dtype._matrix_format = _MATRIX_FORMAT.get(_dtype, _dtype)
