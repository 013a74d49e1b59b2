"""Read device and system YAML strictly: every key known, every number sourced and plausible.

Safe YAML only (`hwspecs.yaml_strict`). Validation runs to the end before anything is built, so a bad file
raises one `SpecError` naming the file and the field, and nothing is half-loaded.
"""

from __future__ import annotations

import math
import re
import reprlib
from pathlib import Path
from typing import Any

from hwspecs import yaml_strict
from hwspecs.dtypes import DType
from hwspecs.errors import SpecError
from hwspecs.rules import (
    DEVICE_RULES,
    REQUIRED_DEVICE_SECTIONS,
    REQUIRED_SYSTEM_SECTIONS,
    SYSTEM_RULES,
    Rule,
)
from hwspecs.units import from_si, unit_of

_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
MAX_SPEC_BYTES = 1_000_000      # a device spec is about 5 KB
_REPR = reprlib.Repr()           # bounded: never the whole repr of an aliased YAML tree
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring = 2, 4, 4, 30


class Checked:
    """A validated spec: SI values and citations keyed by YAML path ('memory.bw_TBps')."""

    def __init__(self, path: str, raw: dict[str, Any]) -> None:
        self.path = path
        self.raw = raw
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.not_sourced: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def section(self, name: str) -> bool:
        return isinstance(self.raw.get(name), dict)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A spec file's mapping: strict YAML (`yaml_strict`: no key twice, bounded size and
    nesting, libyaml where installed), refused as one `SpecError` naming the file."""
    path = str(path)
    try:
        raw = yaml_strict.load_file(path, MAX_SPEC_BYTES, "spec file")
    except OSError as exc:
        raise SpecError(path, "", f"cannot be read ({exc.strerror})") from None
    except yaml_strict.YamlRefused as exc:
        raise SpecError(path, "", str(exc)) from None
    if raw is None:
        raise SpecError(path, "", "is empty; a spec is a YAML mapping of fields")
    if not isinstance(raw, dict):
        raise SpecError(path, "", "must be a YAML mapping of fields, not "
                        f"{type(raw).__name__}")
    return raw


def check(path: str, raw: dict[str, Any], rules: dict[str, Any],
          required_sections: tuple[str, ...]) -> Checked:
    out = Checked(path, raw)
    sources = _check_sources(path, raw.get("sources"))
    _check_not_sourced(out, raw.get("not_sourced"))
    for key, value in raw.items():
        if key in ("sources", "not_sourced"):
            continue
        rule = rules.get(key)
        if rule is None:
            raise SpecError(path, key, f"unknown field (allowed: {_allowed(rules)})")
        if isinstance(rule, dict):
            if not isinstance(value, dict):
                raise SpecError(path, key, "must be a mapping of fields")
            if not value:
                raise SpecError(path, key, "is empty; leave the section out instead")
            for sub, subvalue in value.items():
                subrule = rule.get(sub)
                if subrule is None:
                    raise SpecError(path, f"{key}.{sub}",
                                    f"unknown field (allowed: {_allowed(rule)})")
                _check_field(out, f"{key}.{sub}", subrule, subvalue, sources)
        else:
            _check_field(out, key, rule, value, sources)
    for section in required_sections:
        if not isinstance(raw.get(section), dict):
            raise SpecError(path, section, "is missing (a required section)")
    for key, rule in rules.items():
        if isinstance(rule, dict):
            if isinstance(raw.get(key), dict):
                _check_required(out, key, rule)
        elif rule.required and key not in out.values:
            raise SpecError(path, key, "is missing (a required field)")
    return out


def _allowed(rules: dict[str, Any]) -> str:
    return ", ".join(rules)


def _check_required(out: Checked, section: str, rules: dict[str, Rule]) -> None:
    for key, rule in rules.items():
        if rule.required and f"{section}.{key}" not in out.values:
            raise SpecError(out.path, f"{section}.{key}", "is missing (a required field)")


def _check_sources(path: str, sources: Any) -> dict[str, str]:
    if not isinstance(sources, dict) or not sources:
        raise SpecError(path, "sources", "is missing: a mapping of source ids to citations "
                        "(document and table, or URL)")
    for key, text in sources.items():
        if not isinstance(text, str) or len(text.strip()) < 8:
            raise SpecError(path, f"sources.{key}", "must be a citation (document and table, "
                            "or URL)")
    return {str(k): v for k, v in sources.items()}


def _check_not_sourced(out: Checked, items: Any) -> None:
    if items is None:
        return
    if not isinstance(items, dict):
        raise SpecError(out.path, "not_sourced", "must map a field path to the reason it is "
                        "left out")
    for key, why in items.items():
        if not isinstance(why, str) or not why.strip():
            raise SpecError(out.path, f"not_sourced.{key}", "needs a reason")
        out.not_sourced[str(key)] = why


def _check_field(out: Checked, field: str, rule: Rule, value: Any,
                 sources: dict[str, str]) -> None:
    path = out.path
    if rule.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise SpecError(path, field, f"must be a non-empty string, not {_short(value)}")
        if field == "name" and not _NAME.match(value):
            raise SpecError(path, field, f"{_short(value)} must be lower-case letters, digits, '-' "
                            "and '.'")
        out.values[field] = value
    elif rule.kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(path, field, f"must be true or false, not {_short(value)}")
        out.values[field] = value
    elif rule.kind == "choice":
        if value not in rule.choices:
            raise SpecError(path, field, f"{_short(value)} is not one of {', '.join(rule.choices)}")
        out.values[field] = value
    elif rule.kind == "cited":
        out.values[field] = _check_cited(out, field, value, sources)
    else:
        out.values[field] = _check_sourced(out, field, rule, value, sources)


def _check_sourced(out: Checked, field: str, rule: Rule, value: Any,
                   sources: dict[str, str]) -> float:
    path = out.path
    if not isinstance(value, dict):
        raise SpecError(path, field, "must be {value: ..., source: ...} so every number "
                        f"carries its source, not {_short(value)}")
    allowed = {"value", "source", "note"} | ({"date"} if rule.dated else set()) \
        | ({"provider"} if rule.provider else set())
    extra = set(value) - allowed
    if extra:
        raise SpecError(path, field, f"unknown key(s) {', '.join(sorted(map(str, extra)))} "
                        f"(allowed: {', '.join(sorted(allowed))})")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not _finite(number):
        raise SpecError(path, field, f"value must be a finite number, not {_short(number)}")
    if rule.integer and number != int(number):
        raise SpecError(path, field, f"value must be a whole number, not {_short(number)}")
    source = value.get("source")
    if not isinstance(source, str) or source not in sources:
        raise SpecError(path, field, f"source {_short(source)} is not one of the file's sources "
                        f"({', '.join(sources)})")
    if rule.dated:
        date = str(value.get("date", ""))
        if not _DATE.match(date):
            raise SpecError(path, field, "needs a date (YYYY-MM or YYYY-MM-DD) for when the "
                            "price was seen")
    if rule.provider:
        provider = value.get("provider")
        if not isinstance(provider, str) or not provider.strip():
            raise SpecError(path, field, "needs a provider: the cloud whose on-demand list "
                            "price it is (e.g. CoreWeave)")
        out.values[f"{field}:provider"] = provider.strip()
    unit_key = rule.unit or _unit_key(field)
    unit = unit_of(unit_key)
    si = float(number) * unit.to_si
    low_ok = si > rule.lo if rule.positive else si >= rule.lo
    if not (low_ok and si <= rule.hi):
        lo, hi = from_si(unit_key, rule.lo), from_si(unit_key, rule.hi)
        shown = "" if unit.suffix in ("count", "fraction") else f" {unit.suffix}"
        raise SpecError(path, field, f"{number:g}{shown} is outside the plausible range "
                        f"{lo:g}..{hi:g}{shown}; check the value and its unit")
    citation = sources[source]
    if rule.dated:
        citation = f"{citation} (seen {value['date']})"
    out.sources[field] = citation
    return int(si) if rule.integer else si


def _check_cited(out: Checked, field: str, value: Any, sources: dict[str, str]) -> bool:
    """A fact without a number (a format the device's kernels support): its source."""
    if not isinstance(value, dict) or set(value) - {"source", "note"}:
        raise SpecError(out.path, field, "must be {source: ..., note: ...} naming where the "
                        f"support is stated, not {_short(value)}")
    source = value.get("source")
    if not isinstance(source, str) or source not in sources:
        raise SpecError(out.path, field, f"source {_short(source)} is not one of the file's "
                        f"sources ({', '.join(sources)})")
    out.sources[field] = sources[source]
    return True


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:                 # an int beyond any float
        return False


def _short(value: Any) -> str:
    """A short repr that never builds the whole value's (an aliased YAML tree can be huge)."""
    text = _REPR.repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unit_key(field: str) -> str:
    """The leaf key names the unit; in a dtype table the section does ('vector_TFLOPS.bf16')."""
    parts = field.split(".")
    try:
        unit_of(parts[-1])
        return parts[-1]
    except KeyError:
        return parts[0]


def check_device(path: str | Path) -> Checked:
    return check(str(path), read_yaml(path), DEVICE_RULES, REQUIRED_DEVICE_SECTIONS)


def check_system(path: str | Path) -> Checked:
    return check(str(path), read_yaml(path), SYSTEM_RULES, REQUIRED_SYSTEM_SECTIONS)


def dtype_table(checked: Checked, section: str) -> dict[DType, float]:
    prefix = section + "."
    return {DType(k[len(prefix):]): v for k, v in checked.values.items()
            if k.startswith(prefix)}
