"""The on-disk cache of traces and trace templates, and what keys them.

Entries live in `$ARCHSIM_CACHE_DIR` (default `~/.cache/archsim`), one pickle per key. A key
hashes the config content, the phase, the dtype, the sizes or cell, the torch and transformers
versions and the tracer's own source, so a change to any of them misses. Reading the key needs
neither torch nor transformers: a cache hit costs an unpickle. An entry that cannot be read is
deleted and rebuilt. Entries are our own pickles, written by this process's user.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_TRACER_SOURCES = ("front.py", "record.py", "phases.py", "session.py", "model_build.py",
                   "layer_plan.py", "layer_expand.py", "reshape.py", "facts.py", "../raw.py",
                   "../op.py")
_FORMAT = "archsim-trace-1"


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
    """Pickles under one folder; a bad or unreadable entry reads as missing."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pkl"

    def load(self, key: str) -> Any | None:
        path = self.path(key)
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except OSError:
            return None
        except Exception:  # noqa: BLE001 - any damage means: rebuild the entry
            try:
                path.unlink()
            except OSError:
                pass
            return None

    def store(self, key: str, value: Any) -> None:
        """Write atomically; a cache that cannot be written is skipped, not an error."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path(key))
        except OSError:
            Path(tmp).unlink(missing_ok=True)
