"""The on-disk cache of traces and trace templates, and what keys them.

Entries live in `$ARCHSIM_CACHE_DIR` (default `~/.cache/archsim`), one JSON file per key. A
key hashes the config content, the phase, the dtype, the sizes or cell, the torch and
transformers versions and the tracer's own source, so a change to any of them misses. Reading
the key needs neither torch nor transformers: a cache hit costs a JSON parse.

An entry is data, never code: plain JSON of the trace types (`RawTrace`, `TraceTemplate`,
`ModelFacts`, their ops and tensors), rebuilt only as those types and the enums they hold, so a
planted file cannot run anything. Each entry records the key it was written for and is used
only under that key (an entry copied to another key's name is a miss). An entry that cannot be
read, or does not hold what its kind needs, is deleted and rebuilt.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from hwspecs.dtypes import DType
from workloads.op import ModelFacts, Pass, Phase, Tensor, TensorRole
from workloads.raw import RawOp, RawTrace

_TRACER_SOURCES = ("front.py", "record.py", "phases.py", "session.py", "model_build.py",
                   "layer_plan.py", "layer_expand.py", "reshape.py", "facts.py", "../raw.py",
                   "../op.py")
_FORMAT = "archsim-trace-json-1"
_SUFFIX = ".json"
_ENUMS = {c.__name__: c for c in (DType, Phase, Pass, TensorRole)}


def cache_dir() -> Path:
    root = os.environ.get("ARCHSIM_CACHE_DIR") or os.path.join("~", ".cache", "archsim")
    return Path(root).expanduser()


@lru_cache(maxsize=1)
def software_key() -> str:
    """torch and transformers versions and a hash of the tracer's source files."""
    parts = [_FORMAT]
    for dist in ("torch", "transformers"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=none")
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _TRACER_SOURCES:
        digest.update((here / name).read_bytes())
    parts.append(digest.hexdigest()[:16])
    return ";".join(parts)


def entry_key(*parts: object) -> str:
    text = "|".join(str(p) for p in (*parts, software_key()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class TraceCache:
    """JSON entries under one folder; a bad, foreign or unreadable entry reads as missing."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}{_SUFFIX}"

    def load(self, key: str) -> Any | None:
        path = self.path(key)
        try:
            text = path.read_bytes()
        except OSError:
            return None
        try:
            entry = json.loads(text)
            if not (isinstance(entry, dict) and entry.get("format") == _FORMAT
                    and entry.get("key") == key):
                raise ValueError("not an entry written for this key")
            return _Decoder(entry["tensors"]).value(entry["value"])
        except Exception:  # noqa: BLE001 - any damage means: rebuild the entry
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def store(self, key: str, value: Any) -> None:
        """Write atomically; a cache that cannot be written is skipped, not an error."""
        encoder = _Encoder()
        body = encoder.value(value)
        data = json.dumps({"format": _FORMAT, "key": key, "tensors": encoder.tensors,
                           "value": body}, separators=(",", ":")).encode()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path(key))
        except OSError:
            Path(tmp).unlink(missing_ok=True)


# The encoding: JSON arrays are tuples; {"~": name, ...} is one of the types below; tensors are
# indices into one table per entry (a trace repeats the same few hundred tensors).

def _types() -> dict[str, type]:
    from workloads.trace.layer_expand import ReducedTrace
    from workloads.trace.reshape import Cell, TraceTemplate

    return {"RawTrace": RawTrace, "TraceTemplate": TraceTemplate, "ModelFacts": ModelFacts,
            "Cell": Cell, "ReducedTrace": ReducedTrace}


class _Encoder:
    def __init__(self) -> None:
        self.tensors: list[list] = []
        self._index: dict[Tensor, int] = {}

    def tensor(self, t: Tensor) -> int:
        found = self._index.get(t)
        if found is None:
            found = self._index[t] = len(self.tensors)
            self.tensors.append([list(t.shape), t.dtype.value, t.role.value])
        return found

    def op(self, op: RawOp) -> list:
        tensor = self.tensor
        return [op.target, [tensor(t) for t in op.inputs], [tensor(t) for t in op.outputs],
                list(op.input_ids), list(op.output_ids), self._args(op.args), op.module,
                op.layer, op.pass_.value, self.value(dict(op.attrs))]

    def _args(self, args: tuple) -> list:
        """An op's plain arguments (numbers, strings, tuples of them), quickly."""
        out = []
        for a in args:
            kind = type(a)
            if kind in _PLAIN_TYPES:
                out.append(a)
            elif kind is tuple and all(type(x) in _PLAIN_TYPES for x in a):
                out.append(list(a))
            else:
                out.append(self.value(a))
        return out

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, enum.Enum):
            return {"~": "enum", "type": type(v).__name__, "value": v.value}
        if isinstance(v, (tuple, list)):
            return [self.value(x) for x in v]
        if isinstance(v, dict):
            if _flat(v):
                return {"~": "flat", "items": {k: list(x) if isinstance(x, tuple) else x
                                               for k, x in v.items()}}
            return {"~": "dict", "items": [[self.value(k), self.value(x)] for k, x in v.items()]}
        if isinstance(v, RawOp):
            return {"~": "RawOp", "op": self.op(v)}
        if isinstance(v, Tensor):
            return {"~": "Tensor", "index": self.tensor(v)}
        name = type(v).__name__
        if name in _types() and dataclasses.is_dataclass(v):
            return {"~": name, "fields": {f.name: self._field(getattr(v, f.name))
                                          for f in dataclasses.fields(v)}}
        raise TypeError(f"the trace cache cannot store a {name}")

    def _field(self, v: Any) -> Any:
        if isinstance(v, tuple) and v and isinstance(v[0], RawOp):
            return {"~": "ops", "ops": [self.op(op) for op in v]}
        if isinstance(v, tuple) and v and _is_step(v[0]):      # TraceTemplate.steps
            try:
                return {"~": "steps", "rows": [[k, None if c is None else _flat_items(c)]
                                               for k, c in v]}
            except _NotFlat:
                pass
        return self.value(v)


_PLAIN = (bool, int, float, str, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)


def _flat(d: dict) -> bool:
    """Keys are strings and values plain, or tuples of plain values."""
    return all(isinstance(k, str) and (isinstance(x, _PLAIN) or (
        isinstance(x, tuple) and all(isinstance(y, _PLAIN) for y in x)))
        for k, x in d.items())


class _NotFlat(Exception):
    pass


def _flat_items(d: dict) -> dict:
    """A step's changes as JSON (str keys; plain values or flat tuples), checked as it goes."""
    out = {}
    for k, x in d.items():
        kind = type(x)
        if kind is tuple:
            out[k] = list(x)
        elif kind in (int, str, float, bool) or x is None:
            out[k] = x
        else:
            raise _NotFlat
        if type(k) is not str:
            raise _NotFlat
    return out


def _is_step(s: Any) -> bool:
    return (isinstance(s, tuple) and len(s) == 2 and type(s[0]) is int
            and (s[1] is None or (isinstance(s[1], dict) and _flat(s[1]))))


def _unflat(d: dict) -> dict:
    return {k: tuple(x) if type(x) is list else x for k, x in d.items()}


class _Decoder:
    def __init__(self, tensors: list) -> None:
        self.tensors = [Tensor(tuple(int(d) for d in shape), DType(dtype), TensorRole(role))
                        for shape, dtype, role in tensors]
        self.types = _types()

    def op(self, row: list) -> RawOp:
        target, ins, outs, in_ids, out_ids, args, module, layer, pass_, attrs = row
        t = self.tensors
        new = object.__new__(RawOp)       # NB: a frozen dataclass filled through __dict__
        new.__dict__.update(
            target=str(target), inputs=tuple(t[i] for i in ins),
            outputs=tuple(t[i] for i in outs), input_ids=tuple(in_ids),
            output_ids=tuple(out_ids), args=self.value(args), module=str(module),
            layer=int(layer), pass_=Pass(pass_), attrs=self.value(attrs))
        return new

    def value(self, v: Any) -> Any:
        kind = type(v)
        if kind is list:
            return tuple([self.value(x) for x in v])
        if kind is not dict:
            return v
        tag = v["~"]
        if tag == "flat":
            return _unflat(v["items"])
        if tag == "steps":
            return tuple([(int(k), None if c is None else _unflat(c)) for k, c in v["rows"]])
        if tag == "dict":
            return {self.value(k): self.value(x) for k, x in v["items"]}
        if tag == "enum":
            return _ENUMS[v["type"]](v["value"])
        if tag == "ops":
            return tuple([self.op(row) for row in v["ops"]])
        if tag == "RawOp":
            return self.op(v["op"])
        if tag == "Tensor":
            return self.tensors[v["index"]]
        cls = self.types[tag]
        names = {f.name for f in dataclasses.fields(cls)}
        fields = v["fields"]
        if set(fields) != names:
            raise ValueError(f"a cached {tag} has fields {sorted(fields)}")
        return cls(**{k: self.value(x) for k, x in fields.items()})
