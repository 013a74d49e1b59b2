"""Issue 19: a config must name every field the architecture needs; bad values, misspelt or
missing fields and errors inside transformers are one sentence naming the file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hwspecs.errors import USER_ERRORS, ConfigError, describe
from workloads import load_config, model_facts
from workloads.config import CATALOG_DIR, hf_config

LLAMA_70B = json.loads((CATALOG_DIR / "llama-3.1-70b.json").read_text())


def write(tmp_path: Path, data, name: str = "config.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def edited(**changes) -> dict:
    data = dict(LLAMA_70B)
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return data


def test_a_misspelt_field_is_named_not_defaulted(tmp_path):
    """The repro: `hidden_sise` traced Llama-3.1-70B as a 32.3B model, exit 0."""
    data = edited(hidden_size=...)
    data["hidden_sise"] = LLAMA_70B["hidden_size"]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match="unknown field 'hidden_sise': did you mean "
                                          "hidden_size") as info:
        model_facts(path)
    assert str(info.value).startswith(path)


@pytest.mark.parametrize("field", ["hidden_size", "intermediate_size", "num_hidden_layers",
                                   "num_attention_heads", "vocab_size"])
def test_a_missing_field_is_refused(tmp_path, field):
    path = write(tmp_path, edited(**{field: ...}))
    with pytest.raises(ConfigError, match=f"field '{field}' is missing"):
        hf_config(load_config(path))


BAD_VALUES = [
    ({"hidden_size": "4096"}, "'hidden_size' must be a whole number, not '4096'"),
    ({"hidden_size": 4096.5}, "'hidden_size' must be a whole number, not 4096.5"),
    ({"hidden_size": 8192.0}, "'hidden_size' must be a whole number"),
    ({"num_attention_heads": 0}, "'num_attention_heads' must be at least 1, not 0"),
    ({"hidden_size": 0}, "'hidden_size' must be at least 1, not 0"),
    ({"intermediate_size": -1}, "'intermediate_size' must be at least 1, not -1"),
    ({"num_hidden_layers": 0}, "'num_hidden_layers' must be at least 1, not 0"),
    ({"num_attention_heads": 60}, "'num_attention_heads' \\(60\\) does not divide field "
                                  "'hidden_size'"),
    ({"num_key_value_heads": 7}, "'num_key_value_heads' \\(7\\) does not divide field "
                                 "'num_attention_heads'"),
    ({"num_hidden_layers": True}, "'num_hidden_layers' must be a whole number"),
]


@pytest.mark.parametrize("changes, words", BAD_VALUES, ids=[str(c) for c, _ in BAD_VALUES])
def test_bad_values_are_one_sentence_naming_the_file(tmp_path, changes, words):
    path = write(tmp_path, edited(**changes))
    with pytest.raises(ConfigError, match=words) as info:
        load_config(path)
    assert str(info.value).startswith(path) and "\n" not in str(info.value)


def test_errors_inside_transformers_are_wrapped(tmp_path):
    """huggingface_hub's strict-dataclass errors subclass Exception, not ValueError."""
    path = write(tmp_path, edited(rms_norm_eps="small"))
    with pytest.raises(ConfigError) as info:
        model_facts(path)
    message = str(info.value)
    assert message.startswith(path) and "rms_norm_eps" in message and "\n" not in message
    assert isinstance(info.value, USER_ERRORS)


def test_a_decoder_named_as_a_classifier_is_refused(tmp_path):
    path = write(tmp_path, edited(architectures=["LlamaForSequenceClassification"]))
    with pytest.raises(ConfigError, match="'architectures'.*none is a causal LM"):
        hf_config(load_config(path))
    bert = json.loads((CATALOG_DIR / "bert-base.json").read_text())
    hf_config(load_config(write(tmp_path, bert, "bert.json")))   # encoders stay encoders


def test_binary_deep_and_huge_configs_name_the_file(tmp_path):
    binary = tmp_path / "bin" / "config.json"
    binary.parent.mkdir()
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    with pytest.raises(ValueError, match="not UTF-8") as info:
        load_config(str(binary))
    assert str(binary) in str(info.value)
    deep = write(tmp_path, "[" * 100_000 + "]" * 100_000, "deep.json")
    with pytest.raises(ValueError, match="deep") as info:
        load_config(deep)
    assert deep in str(info.value)
    huge = tmp_path / "huge.json"
    huge.write_text('{"model_type": "llama", "pad": "' + "x" * 17_000_000 + '"}')
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="MB; a config.json is at most"):
        load_config(str(huge))
    assert time.perf_counter() - start < 1.0


def test_every_catalog_config_and_tiny_model_passes():
    from tests.workloads.tiny_models import TINY
    from workloads import catalog_names
    from workloads.config import ModelConfig

    for name in catalog_names():
        hf_config(load_config(name))
    for name, data in TINY.items():
        hf_config(ModelConfig(name, name, data))


def test_describe_names_user_errors_and_bugs_apart():
    assert describe(ConfigError("a.json: bad"))[1]
    assert describe(RecursionError())[1]
    message, users = describe(RuntimeError("boom"))
    assert not users and "internal error" in message
