"""Issue 19: flags a user mistypes get one sentence and a non-zero exit, never a silent
different run: GPU counts that disagree, negative tokens or GPUs, empty lists, plans the
config rules out (refused before any trace), utilization above 1."""

from __future__ import annotations

import json
import time

import pytest

import archsim
import workloads
from tests.cli.test_training_cli import TINY_LLAMA


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny-llama-hostile")
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA))
    return str(folder)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("command", ["train", "infer"])
def test_gpus_that_disagree_with_the_plan_are_refused(capsys, tiny, command):
    """The repro: `--gpus 8 --tp 2 --dp 3` ran on 6 GPUs."""
    code, out, err = run(capsys, command, "--model", tiny, "--system", "dgx-h100", "--gpus",
                         "8", "--tp", "2", "--dp", "3")
    assert code == 2 and not out
    assert "--gpus 8 does not match" in one_line_error(err) and "= 6 GPUs" in err


@pytest.mark.parametrize("argv, words", [
    (["train", "--tokens=-1e12"], "argument --tokens: must be a finite number above 0"),
    (["train", "--gpus", "-8"], "argument --gpus: must be at least 1, not -8"),
    (["infer", "--batch", "0"], "argument --batch: must be at least 1, not 0"),
    (["simulate", "--seq", "1.5"], "argument --seq: must be a whole number, not '1.5'"),
    (["plan-capacity", "--model", "x", "--qps", "1", "--slo-ttft-p99", "1", "--slo-tpot-p99",
      "1", "--hw", "h100-sxm", "--tp", ","], "argument --tp: needs at least one value"),
])
def test_bad_numbers_are_refused_by_the_parser(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert code == 2 and words in one_line_error(err)


def test_an_impossible_plan_is_refused_before_any_trace(capsys, tiny, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("traced before checking the plan")

    monkeypatch.setattr(workloads, "get_workload", refuse)
    start = time.perf_counter()
    code, _, err = run(capsys, "train", "--model", tiny, "--system", "dgx-h100", "--tp", "3",
                       "--gpus", "3")
    assert code == 2 and "tp=3 does not divide the 8 attention heads" in one_line_error(err)
    code, _, err = run(capsys, "infer", "--model", tiny, "--system", "dgx-h100", "--pp", "8")
    assert code == 2 and "pp=8" in one_line_error(err)
    assert time.perf_counter() - start < 5


def test_utilization_with_sparse_weights_stays_at_most_one(capsys):
    """The repro: MFU and HFU of 1.18 on b200 with --sparse --ideal (dense peak as basis)."""
    code, out, _ = run(capsys, "simulate", "--model", "llama-3.1-8b", "--hw", "b200",
                       "--phase", "train", "--seq", "8192", "--ideal", "--sparse", "--json")
    assert code == 0
    data = json.loads(out)
    assert 0 < data["mfu"] <= 1 and 0 < data["hfu"] <= 1


def test_scaled_device_titles_say_the_device_once(capsys, tiny):
    code, out, _ = run(capsys, "train", "--model", tiny, "--system", "h100-sxm", "--tp", "2",
                       "--seq", "128")
    assert code == 0 and "2 x h100-sxm:" in out and "h100-sxmx2" not in out


@pytest.mark.parametrize("argv", [
    ["serve", "--slo-ttft", "-1"],
    ["serve", "--slo-tpot", "0"],
    ["plan-capacity", "--qps", "1", "--slo-ttft-p99", "-0.5", "--slo-tpot-p99", "0.05",
     "--hw", "h100-sxm", "--tp", "1"],
])
def test_a_latency_target_that_is_not_positive_is_refused(capsys, tiny, argv):
    """The repro: negative SLOs were accepted (and every run met them or none did)."""
    code, out, err = run(capsys, *argv, "--model", tiny)
    assert code != 0 and not out
    assert "target must be a positive number of seconds" in one_line_error(err)
