"""Hugging Face ids of catalog models, resolved offline.

    catalog_name("meta-llama/Meta-Llama-3.1-70B")   # "llama-3.1-70b"
    catalog_name("Qwen/Qwen3-235B-A22B-FP8")        # "qwen3-235b-a22b"

An id resolves to a catalog entry when, after the organisation is dropped and the name is
lowercased, it is the entry's name, the name of the Hub id its `_source` cites, or either of
those once the suffixes that leave the architecture unchanged are dropped: `-Instruct`,
`-Chat`, `-Base`, `-hf` and the checkpoint formats `-FP8`, `-FP8-Dynamic`, `-FP4`, `-NVFP4`,
`-MXFP4`, `-AWQ`, `-GPTQ`, `-Int4`, `-Int8`; and a leading `Meta-` (Meta-Llama-3.1-8B is
Llama-3.1-8B). The weights format of a checkpoint is a precision option of the run
(`--dtype`), not a model. A name that is a file or folder on disk is left alone.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"

_SUFFIXES = ("-instruct", "-chat", "-base", "-hf", "-fp8-dynamic", "-fp8", "-nvfp4", "-mxfp4",
             "-fp4", "-awq", "-gptq", "-int4", "-int8")
_SOURCE_ID = re.compile(r"huggingface\.co/([^/\s]+/[^/\s;]+?)(?:/blob/|/resolve/|[\s;]|$)")


def normalize(name: str) -> str:
    """The architecture part of a model name: no organisation, lowercase, no format suffix."""
    base = name.strip().rsplit("/", 1)[-1].lower()
    base = base.removeprefix("meta-")
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if base.endswith(suffix) and len(base) > len(suffix):
                base, changed = base[: -len(suffix)], True
    return base


@functools.cache
def _index() -> dict[str, str]:
    """Normalized name -> catalog name, from the entries' names and their sources' Hub ids."""
    index: dict[str, str] = {}
    for path in sorted(CATALOG_DIR.glob("*.json")):
        index.setdefault(normalize(path.stem), path.stem)
        try:
            source = json.loads(path.read_text()).get("_source", "")
        except (OSError, ValueError):
            continue
        for hub_id in _SOURCE_ID.findall(str(source)):
            index.setdefault(hub_id.lower(), path.stem)
            index.setdefault(normalize(hub_id), path.stem)
    return index


def resolve(name: str) -> str | None:
    """The catalog name a Hugging Face id (or model name) stands for, or None."""
    index = _index()
    key = name.strip().lower()
    return index.get(key) or index.get(normalize(key))


def catalog_name(name: str) -> str:
    """`name`, or the catalog entry it names when it is a Hub id of one (not a path)."""
    if not isinstance(name, str) or not name.strip() or Path(name).expanduser().exists():
        return name
    return resolve(name) or name
