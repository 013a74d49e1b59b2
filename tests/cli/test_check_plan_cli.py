"""`archsim check-plan` and `--kernels measured` on a tiny model: the kernel table, its JSON
and CSV, measured_share in simulate/infer JSON, and one-line refusals."""

from __future__ import annotations

import csv
import json

from archsim_cli.app import main
from tests.simulator.core.test_measured import gemm_records, write_records
from tests.workloads.traced import config_path

PLAN = ["--model", config_path("tiny-llama"), "--system", "dgx-h100", "--tp", "2",
        "--phase", "decode", "--batch", "2", "--context", "8", "--engine", "trtllm"]


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_plan_prints_every_kernel_both_ways(capsys, tmp_path):
    folder = write_records(tmp_path / "rec", gemm_records())
    table = tmp_path / "check.csv"
    code, out, _ = run(capsys, "check-plan", *PLAN, "--records", str(folder), "--json",
                       "--csv", str(table))
    assert code == 0
    d = json.loads(out)
    kinds = {k["kernel_class"]: k for k in d["kernels"]}
    assert kinds["gemm"]["source"] == "measured" and kinds["norm"]["source"] == "model"
    assert 0 < d["measured_share"] < 1 and d["measured_share_by_class"]["gemm"] == 1.0
    step = sum(k["priced_s"] * k["count"] for k in d["kernels"])
    assert d["step_s"] == step
    # Largest discrepancy first; kernels the tables do not cover after them.
    gaps = [k["discrepancy_s"] for k in d["kernels"] if k["discrepancy_s"] is not None]
    assert gaps == sorted(gaps, reverse=True)
    assert len(list(csv.DictReader(table.open()))) == len(d["kernels"])
    code, out, _ = run(capsys, "check-plan", *PLAN, "--records", str(folder))
    assert code == 0 and "Totals per step" in out and "measured share" in out


def test_measured_share_in_simulate_and_infer_json(capsys):
    code, out, _ = run(capsys, "infer", "--model", config_path("tiny-llama"), "--system",
                       "dgx-h100", "--input-len", "16", "--output-len", "4", "--kernels",
                       "measured", "--json")
    assert code == 0
    d = json.loads(out)
    assert 0 <= d["measured_share"] <= 1 and "gemm" in d["measured_share_by_class"]
    assert all({"kernel", "reason", "time_share"} <= set(k) for k in d["fell_back"])
    code, out, _ = run(capsys, "simulate", "--model", config_path("tiny-llama"), "--hw",
                       "h100-sxm", "--seq", "16", "--json")
    assert code == 0 and "measured_share" not in json.loads(out)   # the model: unchanged


def test_bad_records_are_refused_in_one_line(capsys, tmp_path):
    other = write_records(tmp_path / "a100", gemm_records(), device="a100-sxm-80gb")
    code, _, err = run(capsys, "check-plan", *PLAN, "--records", str(other))
    assert code == 2
    assert err.strip() == (f"archsim: error: --kernels measured:{other}: the records are of "
                           "a100-sxm-80gb, not h100-sxm")
    code, _, err = run(capsys, "simulate", "--model", config_path("tiny-llama"), "--seq", "16",
                       "--kernels", "measured:")
    assert code == 2
    assert err == "archsim: error: --kernels 'measured:': name the folder after measured:\n"
