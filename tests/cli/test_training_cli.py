"""`archsim train` as a user runs it, on a tiny Llama config (a fast trace)."""

from __future__ import annotations

import json

import pytest

import archsim

TINY_LLAMA = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512,
              "num_attention_heads": 8, "num_key_value_heads": 4, "num_hidden_layers": 4,
              "vocab_size": 1024, "max_position_embeddings": 1024}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny-llama")
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA))
    return str(folder)


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_json_has_the_keys(capsys, tiny):
    code, out, _ = _run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--tp", "2",
                        "--pp", "2", "--gpus", "8", "--global-batch", "16", "--seq", "256",
                        "--recompute", "selective", "--tokens", "1e9", "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("step_time_s", "tokens_per_s", "mfu", "hfu", "memory_bytes_per_gpu",
                "feasible", "days", "usd"):
        assert key in data
    assert data["plan"]["dp"] == 2 and data["gpus"] == 8 and 0 < data["mfu"] < 1


def test_train_search_ranks_plans_and_says_why_others_were_refused(capsys, tiny):
    code, out, _ = _run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--search",
                        "--gpus", "8", "--global-batch", "16", "--seq", "256", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["feasible"] > 0 and data["ranked"]
    speeds = [r["tokens_per_s"] for r in data["ranked"]]
    assert speeds == sorted(speeds, reverse=True)
    assert "layers" in {r["kind"] for r in data["refused"]}     # pp = 8 on 4 layers
    code, out, _ = _run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--search",
                        "--gpus", "8", "--global-batch", "16", "--seq", "256")
    assert code == 0 and "Refused plans" in out


def test_an_impossible_plan_is_one_line_and_exit_2(capsys, tiny):
    code, _, err = _run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--tp", "3",
                        "--seq", "256")
    assert code == 2
    assert err.strip().count("\n") == 0 and "tp=3 does not divide the 8 attention heads" in err
