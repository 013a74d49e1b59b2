"""The registry of per-op formulas, keyed by aten target.

A key is a full overload (`aten.add.Tensor`), an overload packet (`aten.add`), which covers
every overload, or a prefix ending in `*` (`aten._foreach_*`); lookups try them in that order. Registering a key twice raises.
An op no family knows gets `generic_work` (inputs read, outputs written, no FLOPs) and kind
OTHER; `unknown_targets` lists those, so a test can require every traced op to be known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from workloads.op import OpKind
from workloads.ops.work import Formula, Fuse, Work, all_in, all_out, widest_dtype
from workloads.raw import RawOp

_REGISTRY: dict[str, Formula] = {}
_RESOLVED: dict[str, Formula] = {}


def register(*targets: str, kind: OpKind, fuse: Fuse = Fuse.NONE,
             family: str = "") -> Callable[[Callable[[RawOp], Work]], Callable[[RawOp], Work]]:
    """Decorator: `fn(raw_op) -> Work` prices every target in `targets`."""

    def deco(fn: Callable[[RawOp], Work]) -> Callable[[RawOp], Work]:
        entry = Formula(kind, fuse, fn, family or fn.__module__.rpartition(".")[2])
        for target in targets:
            if target in _REGISTRY:
                raise ValueError(f"op formula for {target!r} is registered twice "
                                 f"({_REGISTRY[target].family} and {entry.family})")
            _REGISTRY[target] = entry
        _RESOLVED.clear()
        return fn

    return deco


def generic_work(op: RawOp) -> Work:
    """An op no family knows: reads its inputs, writes its outputs, no arithmetic."""
    return Work(0.0, all_in(op), all_out(op), widest_dtype(op))


_GENERIC = Formula(OpKind.OTHER, Fuse.NONE, generic_work, "generic")


def formula_for(target: str) -> Formula:
    """The formula of an aten target (full overload, then its packet, else the generic one)."""
    found = _RESOLVED.get(target)
    if found is not None:
        return found
    entry = _REGISTRY.get(target) or _REGISTRY.get(target.rpartition(".")[0])
    if entry is None:
        prefixes = [k for k in _REGISTRY if k.endswith("*") and target.startswith(k[:-1])]
        entry = _REGISTRY[max(prefixes, key=len)] if prefixes else _GENERIC
    _RESOLVED[target] = entry
    return entry


def is_known(target: str) -> bool:
    return formula_for(target) is not _GENERIC


def unknown_targets(targets: Iterable[str]) -> list[str]:
    """The targets (sorted, unique) that fall back to the generic formula."""
    return sorted({t for t in targets if not is_known(t)})


def registered_keys() -> list[str]:
    return sorted(_REGISTRY)
