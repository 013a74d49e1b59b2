"""Sweep results as a Parquet dataset: one file per finished chunk, so a sweep resumes.

RESULTS.parquet is a folder: `part-00012.parquet` per chunk, written to a hidden temporary
file and renamed (a chunk is on disk whole or not at all), and `_sweep.json`, the grid it
belongs to. Parquet readers skip names starting with `_` or `.`, so
`pandas.read_parquet(RESULTS.parquet)` reads the whole sweep.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

_MANIFEST = "_sweep.json"
_PART = re.compile(r"^part-(\d{5,})\.parquet$")


class ResultStore:
    def __init__(self, out: str | Path, fingerprint: str):
        """Open (or start) the results folder of the sweep whose grid has this fingerprint."""
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"results path {self.out} is a file; sweep results are a folder "
                             "(a Parquet dataset): choose a new --out")
        manifest = self.out / _MANIFEST
        if manifest.exists():
            if _read_manifest(manifest) != json.loads(fingerprint):
                raise ValueError(f"results folder {self.out} holds a different grid; choose "
                                 "another --out or delete it to start over")
        elif self.out.exists() and any(self.out.iterdir()):
            raise ValueError(f"results folder {self.out} is not empty and holds no sweep")
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            _write_atomic(manifest, fingerprint.encode())

    def path(self, index: int) -> Path:
        return self.out / f"part-{index:05d}.parquet"

    def done(self) -> set[int]:
        """Chunks already on disk (whole: parts appear only by rename)."""
        return {int(m.group(1)) for p in self.out.iterdir() if (m := _PART.match(p.name))}

    def write(self, index: int, frame) -> None:
        import io

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        _write_atomic(self.path(index), buffer.getvalue())

    def load(self):
        return load_results(self.out)


def load_results(out: str | Path):
    """Every finished chunk of a results folder, in chunk order, as one DataFrame."""
    import pandas as pd

    folder = Path(out)
    if not folder.is_dir():
        raise ValueError(f"no sweep results at {folder}")
    parts = sorted(p for p in folder.iterdir() if _PART.match(p.name))
    if not parts:
        raise ValueError(f"sweep results {folder} hold no finished chunk")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def _read_manifest(path: Path):
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as exc:     # JSONDecodeError, UnicodeDecodeError
        raise ValueError(f"{path}: the sweep's manifest is damaged ({str(exc).splitlines()[0]}); "
                         "delete the results folder to start over, or choose another --out") \
            from None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
