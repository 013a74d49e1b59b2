"""Random broken specs: the loader returns a valid DeviceSpec or raises SpecError naming the
file, never anything else. Valid specs round-trip; `DeviceSpec.scaled` touches only what it says.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hwspecs import DeviceSpec, DType, SpecError, load_device
from hwspecs.rules import DEVICE_RULES
from tests.hwspecs.helpers_specs import H100_PATH, h100_raw, write_spec

# A load takes ~20 ms (pure-Python YAML); these sizes keep the file to a few seconds.
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
FEW = settings(SETTINGS, max_examples=15)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested dict, parents before children."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append(prefix + (key,))
            out.extend(_paths(value, prefix + (key,)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


H100_PATHS = _paths(h100_raw())
MAPPING_PATHS = [()] + [p for p in H100_PATHS if isinstance(_get(h100_raw(), p), dict)]
NUMBER_PATHS = [p for p in H100_PATHS if p[-1] == "value"]
ENTRY_PATHS = [p for p in H100_PATHS if p[-1] in ("value", "source", "date", "note")]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**300, max_value=10**320),
    st.floats(), st.text(max_size=12), st.dates(),
)
WRONG_VALUES = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                  max_size=3),
    max_leaves=6,
)
KEYS = st.text(min_size=1, max_size=12) | st.sampled_from(["a\nb", "x\r", "\t", "\u2028"])


@st.composite
def mutation(draw) -> tuple[str, tuple, Any]:
    op = draw(st.sampled_from(["delete", "replace", "replace_entry", "negate", "scale",
                               "add_key"]))
    if op == "replace_entry":
        return "replace", draw(st.sampled_from(ENTRY_PATHS)), draw(WRONG_VALUES)
    if op == "add_key":
        return op, draw(st.sampled_from(MAPPING_PATHS)), (draw(KEYS), draw(WRONG_VALUES))
    if op in ("negate", "scale"):
        factor = draw(st.sampled_from([1e-9, 1e-3, 10.0, 1e3, 1e6, 1e12]))
        return op, draw(st.sampled_from(NUMBER_PATHS)), factor
    return op, draw(st.sampled_from(H100_PATHS)), draw(WRONG_VALUES)


def _apply(raw: dict, op: str, path: tuple, arg: Any) -> None:
    try:
        parent = _get(raw, path[:-1] if path else path)
    except (KeyError, TypeError):
        return                       # an earlier mutation removed or replaced the parent
    if op == "add_key":
        target = parent.get(path[-1]) if path and isinstance(parent, dict) else parent
        if isinstance(target, dict):
            target.setdefault(arg[0], arg[1])
        return
    if not isinstance(parent, dict) or path[-1] not in parent:
        return
    if op == "delete":
        del parent[path[-1]]
    elif op == "replace":
        parent[path[-1]] = arg
    elif isinstance(parent[path[-1]], (int, float)):
        parent[path[-1]] = -parent[path[-1]] if op == "negate" else parent[path[-1]] * arg


def _load_or_spec_error(path: Path) -> DeviceSpec | None:
    """The loader's whole contract: a DeviceSpec, or a SpecError whose message names the file."""
    try:
        spec = load_device(str(path))
    except SpecError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: "), message
        assert "\n" not in message, message
        return None
    assert isinstance(spec, DeviceSpec)
    return spec


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@SETTINGS
@given(mutations=st.lists(mutation(), min_size=1, max_size=3))
def test_random_mutations_load_or_raise_spec_error(folder, mutations):
    raw = h100_raw()
    for op, path, arg in mutations:
        _apply(raw, op, path, arg)
    _load_or_spec_error(write_spec(folder, raw))


@SETTINGS
@given(data=st.data())
def test_corrupted_text_loads_or_raises_spec_error(folder, data):
    text = bytearray(H100_PATH.read_bytes())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        kind = data.draw(st.sampled_from(["delete", "insert", "truncate"]))
        if kind == "delete":
            del text[at:at + data.draw(st.integers(1, 40))]
        elif kind == "insert":
            text[at:at] = data.draw(st.binary(min_size=1, max_size=8)
                                    | st.sampled_from([b":", b"- ", b"{", b"]", b"\t", b"'",
                                                       b"\n  x: 1\n", b"&a ", b"*a", b"!!"]))
        else:
            del text[at:]
    path = folder / "h100-sxm.yaml"
    path.write_bytes(bytes(text))
    _load_or_spec_error(path)


@FEW
@example(where=(), key="a\nb").via("a key with a line break")
@example(where=("memory", "bw_TBps"), key="x\r").via("a control character")
@given(where=st.sampled_from([p for p in MAPPING_PATHS
                              if p[:1] not in (("sources",), ("not_sourced",))]),
       key=KEYS.filter(lambda k: k not in ("value", "source", "note", "date")))
def test_an_unknown_key_anywhere_is_named(folder, where, key):
    raw = h100_raw()
    target = _get(raw, where)
    if key in target:
        return
    target[key] = 1
    path = write_spec(folder, raw)
    with pytest.raises(SpecError) as info:
        load_device(str(path))
    named = ".".join(where[:2] + (key,)) if len(where) < 2 else ".".join(where[:2])
    assert info.value.field == named
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)


REQUIRED = [k for k, r in DEVICE_RULES.items() if not isinstance(r, dict) and r.required] + [
    f"{s}.{k}" for s, sec in DEVICE_RULES.items() if isinstance(sec, dict)
    for k, r in sec.items() if r.required and s in h100_raw()]


@pytest.mark.parametrize("field", REQUIRED)
def test_every_required_field_is_required(tmp_path, field):
    raw = h100_raw()
    *parents, leaf = field.split(".")
    section = _get(raw, tuple(parents))
    del section[leaf]
    path = write_spec(tmp_path, raw)
    with pytest.raises(SpecError) as info:
        load_device(str(path))
    if section:
        assert info.value.field == field and "missing" in str(info.value)
    else:                                    # the section's only field: now an empty section
        assert info.value.field == parents[0] and "empty" in str(info.value)


def test_a_yaml_dump_round_trips_to_an_equal_spec(tmp_path):
    text = H100_PATH.read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    original = tmp_path / "a" / "h100-sxm.yaml"
    original.write_text(text, encoding="utf-8")
    dumped = write_spec(tmp_path, yaml.safe_load(text))
    spec = load_device(str(original))
    assert dataclasses.replace(load_device(str(dumped)), path=spec.path) == spec
    assert spec.sources and spec.not_sourced and spec.matrix_sparse_peak_flops_per_s


@FEW
@given(seed=st.integers(0, 2**32 - 1))
def test_key_order_does_not_matter(folder, seed):
    rng = random.Random(seed)

    def shuffled(node):
        if not isinstance(node, dict):
            return node
        items = list(node.items())
        rng.shuffle(items)
        return {k: shuffled(v) for k, v in items}

    in_order = load_device(str(write_spec(folder, h100_raw())))
    assert load_device(str(write_spec(folder, shuffled(h100_raw())))) == in_order


_IN_RANGE = st.floats(min_value=0.01, max_value=100, allow_nan=False, allow_infinity=False)


@FEW
@given(bw_tbps=_IN_RANGE, cap_gb=st.integers(1, 10_000), nic_gbps=st.floats(1, 80_000),
       bf16=st.floats(min_value=1, max_value=1978.9))
def test_valid_values_convert_exactly(folder, bw_tbps, cap_gb, nic_gbps, bf16):
    raw = h100_raw()
    raw["memory"]["bw_TBps"]["value"] = bw_tbps
    raw["memory"]["capacity_GB"]["value"] = cap_gb
    raw["scale_out"]["nic_bw_Gbps"]["value"] = nic_gbps
    raw["matrix_dense_TFLOPS"]["bf16"]["value"] = bf16     # sparse bf16 stays >= dense
    spec = load_device(str(write_spec(folder, raw)))
    assert spec.mem_bw_bytes_per_s == bw_tbps * 1e12
    assert spec.mem_capacity_bytes == cap_gb * 1e9
    assert spec.scale_out.bw_bytes_per_s == nic_gbps * (1e9 / 8)
    assert spec.matrix_peak(DType.BF16) == bf16 * 1e12


# Which DeviceSpec values each `scaled` factor multiplies (the rest must not move).
SCALED = {
    "matrix": ("matrix_peak_flops_per_s", "matrix_sparse_peak_flops_per_s"),
    "vector": ("vector_peak_flops_per_s",),
    "mem_bw": ("mem_bw_bytes_per_s",),
    "mem_capacity": ("mem_capacity_bytes",),
    "link": ("scale_up", "scale_out"),
    "price": ("purchase_price_usd", "rent_usd_per_s"),
    "power": ("tdp_w", "idle_w"),
}
_FACTOR = st.floats(min_value=0.01, max_value=100, allow_nan=False, allow_infinity=False)


def _times(value: Any, k: float) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return {d: v * k for d, v in value.items()}
    if hasattr(value, "bw_bytes_per_s"):
        return dataclasses.replace(value, bw_bytes_per_s=value.bw_bytes_per_s * k)
    return value * k


@SETTINGS
@given(factors=st.dictionaries(st.sampled_from(sorted(SCALED)), _FACTOR, min_size=1),
       idle=st.booleans())
def test_scaled_multiplies_exactly_the_named_fields(factors, idle):
    base = load_device("h100-sxm")
    if idle:
        base = dataclasses.replace(base, idle_w=70.0)
    scaled = base.scaled(**factors)
    touched = {f: k for name, k in factors.items() for f in SCALED[name]}
    for f in dataclasses.fields(DeviceSpec):
        before, after = getattr(base, f.name), getattr(scaled, f.name)
        expected = _times(before, touched[f.name]) if f.name in touched else before
        assert after == expected, f.name


@pytest.mark.parametrize("factors, words", [({"flops": 2}, "flops"), ({"matrix": 0}, "matrix"),
                                            ({"mem_bw": -1}, "mem_bw"),
                                            ({"power": float("nan")}, "power")])
def test_bad_scale_factors_are_value_errors(factors, words):
    with pytest.raises(ValueError, match=words):
        load_device("h100-sxm").scaled(**factors)
