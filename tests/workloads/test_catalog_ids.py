"""Hugging Face ids resolve to catalog models offline; the models of the measured serving runs
(and the others whose configs aiconfigurator ships) are in the catalog with their real sizes."""

from __future__ import annotations

import json

import pytest

from workloads import load_config, model_facts
from workloads.catalog_ids import catalog_name, resolve

IDS = {
    "meta-llama/Llama-3.1-70B": "llama-3.1-70b",
    "meta-llama/Meta-Llama-3.1-70B": "llama-3.1-70b",
    "nvidia/Llama-3.1-70B-Instruct-FP8": "llama-3.1-70b",
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Meta-Llama-3.1-405B": "llama-3.1-405b",
    "Qwen/Qwen3-32B": "qwen3-32b",
    "Qwen/Qwen3-32B-FP8": "qwen3-32b",
    "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b",
    "Qwen/Qwen3.5-397B-A17B": "qwen3.5-397b-a17b",
    "openai/gpt-oss-120b": "gpt-oss-120b",
    "openai/gpt-oss-20b": "gpt-oss-20b",
    "MiniMaxAI/MiniMax-M2.5": "minimax-m2.5",
    "deepseek-ai/DeepSeek-V3": "deepseek-v3",
    "deepseek-ai/DeepSeek-R1": "deepseek-r1",
    "zai-org/GLM-5-FP8": "glm-5",
    "meta-llama/Llama-2-7b-hf": "llama-2-7b",
}

# Parameters (billions) as the model cards give them: the catalog must build the real model.
PARAMS_B = {"qwen3-32b": 32.8, "qwen3-235b-a22b": 235.1, "gpt-oss-120b": 116.8,
            "gpt-oss-20b": 20.9, "minimax-m2.5": 228.7, "deepseek-r1": 671.0,
            "qwen3.5-397b-a17b": 396.3, "glm-5": 743.9}


@pytest.mark.parametrize("hub_id, name", sorted(IDS.items()))
def test_hub_ids_resolve_offline(hub_id, name):
    assert resolve(hub_id) == name
    assert load_config(hub_id).name == name          # HF_HUB_OFFLINE=1 in the tests


def test_an_unknown_id_still_says_the_hub_is_offline():
    assert resolve("some-org/some-model") is None
    with pytest.raises(LookupError, match="offline"):
        load_config("some-org/Llama-3.1-70B-but-not")


def test_a_path_on_disk_is_never_taken_for_a_hub_id(tmp_path):
    folder = tmp_path / "Llama-3.1-8B"
    folder.mkdir()
    data = {**load_config("gpt2").data}
    (folder / "config.json").write_text(json.dumps(data))
    assert catalog_name(str(folder)) == str(folder)
    assert load_config(str(folder)).data["model_type"] == "gpt2"


@pytest.mark.parametrize("name, billions", sorted(PARAMS_B.items()))
def test_the_new_catalog_models_have_their_real_size(name, billions):
    cfg = load_config(name)
    assert "quantization_config" not in cfg.data and "auto_map" not in cfg.data
    assert "aiconfigurator" in cfg.data["_source"]
    assert model_facts(name).params / 1e9 == pytest.approx(billions, abs=0.1)
