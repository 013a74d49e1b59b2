"""Reading YAML a user wrote: safe, fast and bounded.

`safe` tags only (libyaml's `CSafeLoader` where PyYAML was built with it, 30-50x faster than
the Python parser). Before anything is constructed the node tree is checked without
recursion: a key twice in one mapping, nesting deeper than `MAX_DEPTH`, a tree of more than
`MAX_NODES` nodes once aliases are expanded (a 4 KB "billion laughs" file expands to 10^10)
and an alias that refers to itself are refused with a `YamlRefused` naming the line. Files
larger than the caller's limit are refused before they are read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _Loader
    LIBYAML = True
except ImportError:                       # PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
    LIBYAML = False

MAX_DEPTH = 40            # mappings and lists inside each other
MAX_NODES = 200_000       # nodes after expanding aliases (a device spec has about 300)


class YamlRefused(ValueError):
    """Not YAML this loader accepts: one sentence (`str`), and the line it is at (or 0)."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        super().__init__(message)


def _broken(exc: yaml.YAMLError) -> YamlRefused:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    detail = getattr(exc, "problem", None) or getattr(exc, "context", None) \
        or str(exc).splitlines()[0]
    if mark is None:
        return YamlRefused(f"broken YAML: {detail}")
    return YamlRefused(f"broken YAML at line {mark.line + 1}, column {mark.column + 1}: "
                       f"{detail}", mark.line + 1)


def read_text(path: str | Path, max_bytes: int, what: str = "file") -> str:
    """The file's text, refusing a directory, a file over `max_bytes` and non-UTF-8 bytes.

    Raises OSError (as `open` does) for a file that cannot be read, `YamlRefused` otherwise."""
    path = Path(path)
    if path.is_dir():
        raise YamlRefused(f"is a directory, not a {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlRefused(f"is {size / 1e6:,.1f} MB; a {what} is at most "
                          f"{max_bytes / 1e6:,.1f} MB")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlRefused(f"is not UTF-8 text (byte {exc.start})") from None


def load(text: str) -> Any:
    """The YAML document in `text`, as `yaml.safe_load` gives it, within the limits above."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _broken(exc) from None
        if node is None:
            return None
        _check_tree(node)
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise _broken(exc) from None
    finally:
        loader.dispose()


def load_file(path: str | Path, max_bytes: int, what: str = "file") -> Any:
    return load(read_text(path, max_bytes, what))


def load_sourced(path: str | Path, what: str, key: str, shape: str) -> dict:
    """A data table with its `source` (the calibration tables archsim writes): the mapping
    under `key`; ValueError naming the file when it is unreadable or not of that shape."""
    try:
        raw = load_file(path, 1 << 20, what)
    except (OSError, YamlRefused) as exc:
        raise ValueError(f"{path}: {exc}") from None
    table = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(table, dict) or not str(raw.get("source", "")).strip():
        raise ValueError(f"{path}: a {what} is a mapping with a 'source' and {shape}")
    return table


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _refused(problem: str, node: Node) -> YamlRefused:
    mark = getattr(node, "start_mark", None)
    if mark is None:
        return YamlRefused(problem)
    return YamlRefused(f"{problem} (line {mark.line + 1})", mark.line + 1)


def _check_keys(node: MappingNode) -> None:
    seen: set[tuple[str, str]] = set()
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.value == "<<":
            continue
        ident = (key.tag, key.value)
        if ident in seen:
            raise _refused(f"key {_short(key.value)!r} appears twice in one mapping", key)
        seen.add(ident)


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _check_tree(root: Node) -> None:
    """Depth, expanded size, self-reference and duplicate keys; iterative (no recursion)."""
    size: dict[int, int] = {}            # id(node) -> nodes below and including it, expanded
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise _refused(f"expands to more than {MAX_NODES:,} values (aliases of "
                               "aliases?)", node)
            size[nid] = total
            continue
        if nid in size:
            continue
        if nid in on_path:
            raise _refused("an alias refers to the value that holds it", node)
        if len(on_path) >= MAX_DEPTH:
            raise _refused(f"nests lists and mappings more than {MAX_DEPTH} deep", node)
        if isinstance(node, MappingNode):
            _check_keys(node)
        on_path.add(nid)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in size)
