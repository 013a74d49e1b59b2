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
    assert "family err" in out and "days" not in out


def test_train_search_with_tokens_gives_days_and_dollars_and_family_errors(capsys, tiny):
    args = ("train", "--model", tiny, "--system", "dgx-h100", "--search", "--gpus", "8",
            "--global-batch", "16", "--seq", "256", "--tokens", "1e12", "--top", "3")
    code, out, _ = _run(capsys, *args, "--json")
    assert code == 0
    ranked = json.loads(out)["ranked"]
    for r in ranked:
        # days = tokens / (tokens/s) / 86400; dollars = that time at the plan's $/hour.
        assert r["days"] == pytest.approx(1e12 / r["tokens_per_s"] / 86400, rel=1e-6)
        assert r["usd"] == pytest.approx(r["days"] * 24 * r["usd_per_hour"], rel=1e-6)
        assert r["family_error"]["family"].startswith("train: ")
        assert isinstance(r["family_error"]["marked"], bool)
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "days" in out and "$ to train" in out
    assert f"{ranked[0]['days']:,.1f}" in out
    assert "'!' marks a family" in out
    feasible = json.loads(_run(capsys, *args, "--json")[1])["feasible"]
    assert feasible > 3      # --top 3 hides the rest, and says how many
    assert f"{feasible - 3:,} more feasible plan(s) not shown" in out


def test_an_impossible_plan_is_one_line_and_exit_2(capsys, tiny):
    code, _, err = _run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--tp", "3",
                        "--seq", "256")
    assert code == 2
    assert err.strip().count("\n") == 0 and "tp=3 does not divide the 8 attention heads" in err
