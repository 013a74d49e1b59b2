"""Request length distributions, parsed from short text: `512`, `uniform:128:1024`,
`lognormal:512:0.5` (mean tokens, sigma of the log)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

KINDS = ("fixed", "uniform", "lognormal")


@dataclass(frozen=True)
class LengthDist:
    kind: str
    a: float          # fixed: the length; uniform: low; lognormal: mean tokens
    b: float = 0.0    # uniform: high (inclusive); lognormal: sigma of log(length)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown length distribution {self.kind!r}; use "
                             f"{', '.join(KINDS)}")
        if self.a < 1 or (self.kind == "uniform" and self.b < self.a) \
                or (self.kind == "lognormal" and self.b < 0):
            raise ValueError(f"length distribution {self.label} is out of range: lengths are "
                             "at least 1 token, uniform needs low <= high, sigma >= 0")

    @property
    def label(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        return f"{self.kind}:{self.a:g}:{self.b:g}"

    @property
    def max_tokens(self) -> int:
        """A bound the samples stay under (lognormal: its 99.99th percentile)."""
        if self.kind == "fixed":
            return int(self.a)
        if self.kind == "uniform":
            return int(self.b)
        mu = math.log(self.a) - self.b ** 2 / 2
        return int(math.ceil(math.exp(mu + 3.72 * self.b)))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(n, int(self.a), dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(int(self.a), int(self.b) + 1, size=n, dtype=np.int64)
        # The log-normal's mean is `a`: mu = ln(a) - sigma^2 / 2.
        mu = math.log(self.a) - self.b ** 2 / 2
        x = np.rint(rng.lognormal(mu, self.b, size=n)).astype(np.int64)
        # NB: samples are clipped to [1, max_tokens] so one outlier cannot dominate a run.
        return np.clip(x, 1, self.max_tokens)


def parse_length(text: str) -> LengthDist:
    parts = str(text).strip().lower().split(":")
    try:
        if len(parts) == 1:
            return LengthDist("fixed", float(int(parts[0])))
        if len(parts) == 3 and parts[0] in ("uniform", "lognormal"):
            return LengthDist(parts[0], float(parts[1]), float(parts[2]))
    except ValueError as e:
        if "out of range" in str(e):
            raise
    raise ValueError(f"cannot read length distribution {text!r}; write 512, uniform:128:1024 "
                     "or lognormal:512:0.5")
