"""Finding and reading model configs: a catalog name, a path to a config.json, or a Hub id.

`find_config` reads JSON only (no torch, no transformers); `hf_config` turns it into a
transformers config, never with `trust_remote_code`. Every bad input is one clear sentence:
an unknown name is a `LookupError` suggesting close names; malformed JSON, a missing field or an
architecture transformers does not know is a `ValueError` naming the file and the field.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwspecs.errors import ConfigError
from workloads import config_check
from workloads.catalog_ids import catalog_name

CATALOG_DIR = Path(__file__).resolve().parent / "catalog"

# Keys that do not change the model's shape or arithmetic; left out of the content hash.
_NOT_HASHED = ("_name_or_path", "transformers_version", "torch_dtype", "dtype", "auto_map",
               "_comment", "_source")


@dataclass(frozen=True)
class ModelConfig:
    """One model's config.json as read, with where it came from."""

    name: str                     # catalog name, file stem, or Hub id
    source: str                   # the file path, or "hub:<id>"
    data: Mapping[str, Any]       # the JSON object

    @property
    def model_type(self) -> str:
        return str(self.data["model_type"])

    @property
    def content_hash(self) -> str:
        """Hash of what shapes the model: the config without bookkeeping keys."""
        kept = {k: v for k, v in self.data.items() if k not in _NOT_HASHED}
        text = json.dumps(kept, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def catalog_names() -> list[str]:
    """The shipped model names, sorted."""
    return sorted(p.stem for p in CATALOG_DIR.glob("*.json"))


def find_config(ref: str | ModelConfig) -> ModelConfig:
    """A catalog name, a config.json path (or its folder), or a Hub id when online."""
    if isinstance(ref, ModelConfig):
        return ref
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(f"a model must be named by a non-empty string, not {ref!r}")
    name = ref.strip()
    name = catalog_name(name)   # a Hugging Face id of a catalog model: workloads.catalog_ids
    entry = CATALOG_DIR / f"{name.lower()}.json"
    if entry.is_file():
        return ModelConfig(name.lower(), str(entry), read_config_file(entry))
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        path = path / "config.json"
    if path.is_file():
        stem = path.parent.name if path.name == "config.json" else path.stem
        return ModelConfig(stem, str(path), read_config_file(path))
    if name.endswith(".json"):
        raise LookupError(f"config file {name!r} does not exist")
    if "/" in name and not _offline():
        return _hub_config(name)
    raise LookupError(_unknown_model_message(name))


MAX_CONFIG_BYTES = 16_000_000   # a config.json is a few KB (a large label map: a few MB)


def read_config_file(path: Path) -> dict[str, Any]:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path} is {size / 1e6:,.1f} MB; a config.json is at most "
                              f"{MAX_CONFIG_BYTES / 1e6:,.0f} MB")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start}): is it a config.json?") \
            from None
    except RecursionError:
        raise ValueError(f"{path} nests lists and objects too deep to be a config") from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object, not {type(data).__name__}")
    if not isinstance(data.get("model_type"), str):
        raise ValueError(f"{path} has no 'model_type' field, so its architecture is unknown")
    config_check.check_values(data, str(path))
    return data


def hf_config(cfg: ModelConfig):
    """The transformers config object for `cfg`; raises if transformers lacks the architecture
    or the config leaves out a field that shapes the model (`config_check`)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if cfg.model_type not in CONFIG_MAPPING:
        raise ValueError(f"{cfg.source}: field 'model_type' is {cfg.model_type!r}, an "
                         "architecture this transformers version does not know")
    config_class = CONFIG_MAPPING[cfg.model_type]
    config_check.check_fields(cfg.data, cfg.source, config_class, cfg.model_type)
    config_check.check_architectures(cfg.data, cfg.source, cfg.model_type,
                                     MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                     MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    data = {k: v for k, v in cfg.data.items() if k not in ("auto_map", "_comment", "_source")}
    data.pop("model_type")
    with config_check.config_errors(cfg.source):
        try:
            return config_class(**data)
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"{cfg.source}: transformers rejects this config ({exc})") \
                from None


def tp_plan_of(ref: str | ModelConfig):
    """The model's own tensor-parallel plan (transformers' `base_model_tp_plan`), or None."""
    return getattr(hf_config(find_config(ref)), "base_model_tp_plan", None) or None


def _offline() -> bool:
    return any(os.environ.get(k, "") not in ("", "0", "false", "False")
               for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hub_config(repo_id: str) -> ModelConfig:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        path = hf_hub_download(repo_id, "config.json")
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise LookupError(f"cannot fetch config.json of Hub model {repo_id!r}: "
                          f"{str(exc).splitlines()[0]}") from None
    return ModelConfig(repo_id, f"hub:{repo_id}", read_config_file(Path(path)))


def _unknown_model_message(name: str) -> str:
    names = catalog_names()
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(names)}"
    return (f"unknown model {name!r}: not in the catalog, not a config.json path"
            f"{'' if '/' not in name else ', and the Hub is offline'}; {hint}")
