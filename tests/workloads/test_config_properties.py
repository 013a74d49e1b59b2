"""Random broken config.json files and grid files (issue 19), as `test_spec_properties` does
for specs: each loader returns a config or grid, or raises one user error (`USER_ERRORS`) whose
one-line message names the file; never a traceback of another kind, never a hang."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwspecs.errors import USER_ERRORS
from simulator.sweep.grid import load_grid
from tests.app.conftest import SMALL_CONFIG
from workloads.config import ModelConfig, hf_config, read_config_file

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
EXAMPLE_GRID = Path(__file__).resolve().parents[2] / "examples" / "grid.yaml"

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 6),
                     st.integers(min_value=10 ** 300, max_value=10 ** 320),
                     st.floats(allow_nan=False), st.text(max_size=12))
VALUES = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


def mutation(keys: list[str]):
    return st.tuples(st.sampled_from(["delete", "set", "rename"]), st.sampled_from(keys),
                     VALUES, st.text(min_size=1, max_size=14))


def mutate(raw: dict[str, Any], ops) -> dict[str, Any]:
    raw = dict(raw)
    for op, key, value, new_key in ops:
        if key not in raw:
            continue
        if op == "delete":
            del raw[key]
        elif op == "set":
            raw[key] = value
        else:
            raw[new_key] = raw.pop(key)
    return raw


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def _assert_one_line_naming(path: Path, exc: Exception) -> None:
    message = str(exc.args[0]) if isinstance(exc, LookupError) and exc.args else str(exc)
    assert str(path) in message, message
    assert "\n" not in message, message


def _corrupted(data, text: bytes, longest: int, inserts) -> bytes:
    """`text` with 1-3 random cuts (up to `longest` bytes) or insertions drawn from `inserts`."""
    text = bytearray(text)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            del text[at:at + data.draw(st.integers(1, longest))]
        else:
            text[at:at] = data.draw(inserts)
    return bytes(text)


def _config_or_user_error(path: Path) -> None:
    try:
        data = read_config_file(path)
        hf_config(ModelConfig("fuzz", str(path), data))
    except USER_ERRORS as exc:
        _assert_one_line_naming(path, exc)


@SETTINGS
@given(ops=st.lists(mutation(list(SMALL_CONFIG)), min_size=1, max_size=3))
def test_random_config_edits_load_or_raise_a_user_error(folder, ops):
    path = folder / "config.json"
    path.write_text(json.dumps(mutate(SMALL_CONFIG, ops)))
    _config_or_user_error(path)


@SETTINGS
@given(data=st.data())
def test_corrupted_config_text_loads_or_raises_a_user_error(folder, data):
    text = _corrupted(data, json.dumps(SMALL_CONFIG, indent=1).encode(), 20,
                      st.binary(min_size=1, max_size=6)
                      | st.sampled_from([b"{", b"]", b'"', b",", b"\xff", b"[" * 50]))
    path = folder / "config.json"
    path.write_bytes(text)
    _config_or_user_error(path)


GRID = yaml.safe_load(EXAMPLE_GRID.read_text())


def _grid_or_user_error(path: Path) -> None:
    try:
        load_grid(path)
    except USER_ERRORS as exc:
        _assert_one_line_naming(path, exc)


@SETTINGS
@given(ops=st.lists(mutation(list(GRID)), min_size=1, max_size=3))
def test_random_grid_edits_load_or_raise_a_user_error(folder, ops):
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(mutate(GRID, ops)))
    _grid_or_user_error(path)


@SETTINGS
@given(data=st.data())
def test_corrupted_grid_text_loads_or_raises_a_user_error(folder, data):
    text = _corrupted(data, EXAMPLE_GRID.read_bytes(), 40,
                      st.binary(min_size=1, max_size=8)
                      | st.sampled_from([b":", b"- ", b"{", b"]", b"\t", b"&a ", b"*a", b"!!",
                                         b"\n  x: 1\n", b"<<: *a"]))
    path = folder / "grid.yaml"
    path.write_bytes(text)
    _grid_or_user_error(path)
