"""The model catalog and config loading: every shipped config loads; bad input is one sentence."""

from __future__ import annotations

import json

import pytest

from archsim_cli.app import main as cli
from workloads import catalog_names, load_config, model_facts
from workloads.config import hf_config

REQUIRED = {"bert-base", "bert-large", "gpt2", "gpt2-xl", "llama-2-7b", "llama-2-13b",
            "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "mistral-7b",
            "mixtral-8x7b", "qwen2.5-7b", "qwen2.5-72b", "qwen3-30b-a3b", "deepseek-v3",
            "gemma-3-12b", "phi-3-mini"}


def test_catalog_holds_the_required_models():
    assert REQUIRED <= set(catalog_names())
    assert catalog_names() == sorted(catalog_names())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_catalog_config_is_known_to_transformers(name):
    cfg = load_config(name)
    assert cfg.name == name and cfg.source.endswith(f"{name}.json")
    assert "quantization_config" not in cfg.data and "auto_map" not in cfg.data
    assert hf_config(cfg).model_type == cfg.model_type


def test_names_are_case_insensitive_and_paths_work(tmp_path):
    assert load_config("Llama-2-7B").data == load_config("llama-2-7b").data
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(load_config("gpt2").data))
    by_folder = load_config(str(folder))
    by_file = load_config(str(folder / "config.json"))
    assert by_folder.name == by_file.name == "my-model"
    assert by_folder.content_hash == load_config("gpt2").content_hash


def test_content_hash_ignores_provenance_but_not_dimensions():
    data = dict(load_config("gpt2").data)
    base = load_config("gpt2").content_hash
    from workloads.config import ModelConfig

    assert ModelConfig("x", "x", {**data, "_source": "elsewhere"}).content_hash == base
    assert ModelConfig("x", "x", {**data, "n_layer": 13}).content_hash != base


def test_unknown_model_suggests_close_names():
    with pytest.raises(LookupError) as err:
        load_config("lama-2-7b")
    assert "llama-2-7b" in str(err.value.args[0])
    with pytest.raises(LookupError, match="known"):
        load_config("zzzzzz")
    with pytest.raises(LookupError, match="does not exist"):
        load_config("/no/such/config.json")


def test_hub_ids_are_not_fetched_offline():
    with pytest.raises(LookupError, match="offline"):
        load_config("some-org/some-model")


def test_malformed_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"model_type": "llama",')
    with pytest.raises(ValueError, match="bad.json is not valid JSON"):
        load_config(str(bad))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_config(str(listed))


def test_missing_or_unknown_architecture_names_the_field(tmp_path):
    none = tmp_path / "none.json"
    none.write_text('{"hidden_size": 8}')
    with pytest.raises(ValueError, match="'model_type'"):
        load_config(str(none))
    alien = tmp_path / "alien.json"
    alien.write_text('{"model_type": "not-a-transformer", "hidden_size": 8}')
    with pytest.raises(ValueError, match=r"alien\.json: field 'model_type'"):
        model_facts(str(alien))


def test_cli_models_lists_computed_parameter_counts(capsys):
    assert cli(["models", "gpt2", "bert-base", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["gpt2", "bert-base"]
    assert rows[0]["params"] == model_facts("gpt2").params
    assert cli(["models", "gpt2"]) == 0
    assert "GPT2LMHeadModel" in capsys.readouterr().out


def test_cli_models_rejects_unknown_names_in_one_line(capsys):
    assert cli(["models", "lama-2-7b"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean llama-2-7b" in err
