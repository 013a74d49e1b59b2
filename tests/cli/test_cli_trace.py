"""`archsim trace` on a tiny model: tables, JSON keys, CSV export and one-line errors."""

from __future__ import annotations

import csv
import json

import pytest

from archsim_cli.app import main
from tests.workloads.traced import config_path


def run(capsys, *argv):
    code = main(["trace", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_json_has_the_totals_and_the_op_list(capsys, tmp_path):
    table = tmp_path / "ops.csv"
    code, out, _ = run(capsys, "--model", config_path("tiny-llama"), "--phase", "decode",
                       "--batch", "2", "--seq", "8", "--json", "--csv", str(table))
    assert code == 0
    d = json.loads(out)
    assert {"flops", "read_bytes", "write_bytes", "num_ops", "params", "ops"} <= set(d)
    assert d["num_ops"] == len(d["ops"]) and d["context"] == 8 and d["seq"] == 1
    assert d["flops"] == pytest.approx(sum(op["flops"] for op in d["ops"]))
    assert d["read_bytes"] == pytest.approx(sum(op["read_bytes"] for op in d["ops"]))
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == d["num_ops"]
    assert {r["kind"] for r in rows} >= {"gemm", "attention", "norm"}


def test_tables_and_a_disabled_pass(capsys):
    code, out, _ = run(capsys, "--model", config_path("tiny-llama"), "--seq", "8",
                       "--no-fuse", "fuse_elementwise", "views")
    assert code == 0
    for title in ("Trace of tiny-llama", "By kernel kind", "By layer", "fuse_elementwise"):
        assert title in out


@pytest.mark.parametrize("argv, message", [
    (["--batch", "0"], "argument --batch: must be at least 1, not 0"),
    (["--seq", "-4"], "argument --seq: must be at least 1, not -4"),
    (["--no-fuse", "flash"], "unknown lowering pass 'flash'; did you mean flash_attention?"),
    (["--phase", "train", "--context", "16"], "drop --context 16"),
])
def test_bad_input_is_one_clear_line(capsys, argv, message):
    code, out, err = run(capsys, "--model", config_path("tiny-llama"), *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1
