"""A stack of V spec variants (`hwspecs.ScaleFactors`) as (V,) arrays, one per factor.

The pricing core multiplies each kernel's peak by the factor of the spec table it comes from,
memory bandwidth by `mem_bw`, and so on, for all V rows at once; row i then equals pricing
`device.scaled(factors[i])` alone, to the last bit (the same products in the same order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from hwspecs.scale import FACTOR_NAMES, ScaleFactors


@dataclass(frozen=True)
class Variants:
    factors: tuple[ScaleFactors, ...]
    columns: Mapping[str, np.ndarray]     # factor name -> (V,) multipliers

    @classmethod
    def of(cls, variants: Iterable[ScaleFactors | Mapping[str, float]]) -> Variants:
        factors = tuple(ScaleFactors.of(v) for v in variants)
        if not factors:
            raise ValueError("a sweep needs at least one spec variant")
        return cls(factors, {name: np.array([getattr(f, name) for f in factors], dtype=float)
                             for name in FACTOR_NAMES})

    def __len__(self) -> int:
        return len(self.factors)

    @property
    def matrix(self) -> np.ndarray:
        return self.columns["matrix"]

    @property
    def vector(self) -> np.ndarray:
        return self.columns["vector"]

    @property
    def mem_bw(self) -> np.ndarray:
        return self.columns["mem_bw"]

    @property
    def mem_capacity(self) -> np.ndarray:
        return self.columns["mem_capacity"]

    @property
    def link(self) -> np.ndarray:
        return self.columns["link"]

    @property
    def price(self) -> np.ndarray:
        return self.columns["price"]

    @property
    def power(self) -> np.ndarray:
        return self.columns["power"]
