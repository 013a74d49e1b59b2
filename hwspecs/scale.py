"""What-if multipliers on a device's (or a system's) rates: the one list of scale factors.

Specs (`DeviceSpec.scaled`, `System.scaled`), sweeps (a grid's `variants`) and the app's
what-if page all name the factors through `ScaleFactors`; the simulator prices many of them
at once as a stack (`simulator.core.variants.Variants`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ScaleFactors:
    """Multipliers on a part's rates and prices; 1 leaves a field as the spec has it."""

    matrix: float = 1.0        # matrix-unit peaks, dense and sparse, every dtype
    vector: float = 1.0        # vector-unit peaks
    mem_bw: float = 1.0        # memory bandwidth
    mem_capacity: float = 1.0  # memory capacity
    link: float = 1.0          # scale-up and scale-out bandwidth (every link level)
    price: float = 1.0         # purchase price and rent
    power: float = 1.0         # TDP and idle power

    def __post_init__(self) -> None:
        bad = [f.name for f in fields(self) if isinstance(getattr(self, f.name), bool)
               or not isinstance(getattr(self, f.name), int | float)
               or not 0 < getattr(self, f.name) < math.inf]
        if bad:
            raise ValueError(f"scale factor(s) {', '.join(bad)} must be positive and finite")

    @classmethod
    def of(cls, factors: Mapping[str, float] | ScaleFactors | None = None) -> ScaleFactors:
        """From a mapping such as {"mem_bw": 2.0}; an unknown name is refused."""
        if isinstance(factors, ScaleFactors):
            return factors
        given = dict(factors or {})
        unknown = set(given) - set(FACTOR_NAMES)
        if unknown:
            raise ValueError(f"unknown scale factor(s): {', '.join(sorted(map(str, unknown)))}; "
                             f"use {', '.join(FACTOR_NAMES)}")
        try:
            values = {k: float(v) for k, v in given.items()}
        except (TypeError, ValueError):
            raise ValueError("scale factors must be numbers") from None
        return cls(**values)

    def changed(self) -> dict[str, float]:
        """The factors that are not 1, by name."""
        return {name: getattr(self, name) for name in FACTOR_NAMES
                if getattr(self, name) != 1.0}

    @property
    def is_identity(self) -> bool:
        return not self.changed()


FACTOR_NAMES = tuple(f.name for f in fields(ScaleFactors))
# What a user-facing page calls each factor.
FACTOR_LABELS = {"matrix": "matrix FLOP/s", "vector": "vector FLOP/s",
                 "mem_bw": "memory bandwidth", "mem_capacity": "memory capacity",
                 "link": "link bandwidth", "price": "price", "power": "power"}
assert tuple(FACTOR_LABELS) == FACTOR_NAMES
