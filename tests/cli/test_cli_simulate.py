"""`archsim simulate` and `archsim compare` as a user runs them."""

from __future__ import annotations

import json

import pytest

import archsim


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_json_has_the_keys_with_units(capsys):
    code, out, _ = _run(capsys, "simulate", "--model", "llama-2-7b", "--hw", "h100-sxm",
                        "--phase", "decode", "--seq", "2048", "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("time_s", "compute_s", "memory_s", "overhead_s", "bound", "memory_bytes",
                "feasible", "tokens_per_s", "energy_j", "usd_per_1m_tokens", "tpot_s"):
        assert key in data
    assert data["feasible"] is True and data["bound"] == "memory"


def test_compare_prints_one_row_per_device(capsys):
    code, out, _ = _run(capsys, "compare", "--model", "llama-2-7b", "--hw",
                        "h100-sxm,a100-sxm-80gb", "--seq", "512", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["device"] for r in rows] == ["h100-sxm", "a100-sxm-80gb"]
    assert rows[0]["time_s"] < rows[1]["time_s"]


def test_train_json_reports_mfu(capsys):
    code, out, _ = _run(capsys, "simulate", "--model", "llama-2-7b", "--hw", "h100-sxm",
                        "--phase", "train", "--seq", "1024", "--json")
    assert code == 0
    data = json.loads(out)
    assert 0 < data["mfu"] <= 1 and data["feasible"] is False  # 7B + AdamW > 80 GB


@pytest.mark.parametrize("argv, words", [
    (["simulate", "--hw", "h100"], "did you mean h100-sxm"),
    (["simulate", "--model", "llama-2-7b", "--dtype", "fp4"], "no dense fp4 matrix peak"),
    (["simulate", "--model", "llama-2-7b", "--dtype", "bf17"], "unknown dtype"),
    (["simulate", "--model", "llama-2-7b", "--batch", "0"], "batch"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, words):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert words in err and err.count("\n") == 1
