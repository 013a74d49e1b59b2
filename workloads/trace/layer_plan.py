"""Which layers of the stack to trace, and which traced layer every other layer copies.

Layers built from the same code with the same shapes and settings run the same ops. So the
tracer runs a few layers (the first `a`, and the last), and every middle layer copies a traced
middle layer whose own signature and whose neighbours' signatures match its own. A layer's
signature is its module tree: class names, parameter and buffer shapes and dtypes, and plain
settings (sliding window, layer type), but not its index. `workloads.trace.layer_expand` does the
copying and refuses (the tracer then runs every layer) if the copy would not be exact.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

_INDEX_ATTRS = frozenset({"layer_idx", "layer_id", "layer_index", "layer_number", "idx",
                          "training"})
_PLAIN = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class LayerPlan:
    layers: int                       # layers of the full model
    traced: tuple[int, ...]           # full-model indices the tracer runs, ascending
    source: tuple[int, ...]           # source[i]: the traced layer whose ops layer i copies

    @property
    def reduced(self) -> bool:
        return len(self.traced) < self.layers


def layer_signature(layer) -> Hashable:
    """What decides the ops a layer runs, leaving out its index."""
    parts = []
    for name, mod in layer.named_modules():
        settings = tuple(sorted(
            (k, v) for k, v in vars(mod).items()
            if not k.startswith("_") and k not in _INDEX_ATTRS and isinstance(v, _PLAIN)))
        tensors = tuple((k, tuple(t.shape), str(t.dtype))
                        for k, t in (*mod._parameters.items(), *mod._buffers.items())
                        if t is not None)
        parts.append((name, type(mod).__name__, settings, tensors))
    return tuple(parts)


def plan_layers(signatures: list[Hashable]) -> LayerPlan:
    """The fewest traced layers (first `a`, then the last) that every other layer can copy."""
    n = len(signatures)
    for a in range(3, n - 1):
        source = _sources(signatures, a)
        if source is not None:
            return LayerPlan(n, (*range(a), n - 1), source)
    return LayerPlan(n, tuple(range(n)), tuple(range(n)))


def _sources(sig: list[Hashable], a: int) -> tuple[int, ...] | None:
    n = len(sig)
    # The last layer runs at position `a` of the reduced stack, next to layer a-1: both must
    # look like the full model's (a model loop may read `config.layer_types[position]`).
    if sig[a] != sig[n - 1] or sig[a - 1] != sig[n - 2]:
        return None
    source = list(range(a)) + [0] * (n - a - 1) + [n - 1]
    for i in range(a, n - 1):
        match = [j for j in range(a - 2, 0, -1)
                 if sig[j - 1:j + 2] == sig[i - 1:i + 2]]
        if not match:
            return None
        source[i] = match[0]
    return tuple(source)
