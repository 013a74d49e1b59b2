"""`--kernels measured` on `serve`, `train` and `sweep`: the measured share in the JSON and
the trailing line, the same shape `infer --json` gives; the model run carries none."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import archsim
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model
SHARE_KEYS = ("measured_share", "measured_share_by_class", "fell_back")
SERVE = ("--system", "h100-sxm", "--input-len", "128", "--output-len", "16")


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _check_share(data: dict) -> None:
    assert 0.0 < data["measured_share"] < 1.0
    assert data["measured_share_by_class"]["gemm"] > 0.5
    assert all(0.0 <= v <= 1.0 for v in data["measured_share_by_class"].values())
    assert data["fell_back"] and all(set(r) == {"kernel", "kernel_class", "reason",
                                                "time_share"} for r in data["fell_back"])


@pytest.mark.parametrize("loop", [("--qps", "2", "--duration", "5"), ("--concurrency", "4")])
def test_serve_json_carries_the_measured_share(capsys, tiny_model, loop):
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, *SERVE, *loop, "--json",
                        "--kernels", "measured")
    assert code == 0
    measured = json.loads(out)
    _check_share(measured)
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, *SERVE, *loop, "--json")
    model = json.loads(out)
    assert not set(SHARE_KEYS) & set(model)
    assert measured["ttft_mean_s"] != pytest.approx(model["ttft_mean_s"], rel=1e-4)


def test_serve_and_train_text_end_with_the_share_line(capsys, tiny_model):
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, *SERVE, "--concurrency", "2",
                        "--kernels", "measured")
    assert code == 0 and out.splitlines()[-1].startswith("priced from measurements: ")
    code, out, _ = _run(capsys, "train", "--model", tiny_model, "--system", "h100-sxm",
                        "--seq", "128", "--kernels", "measured")
    assert code == 0 and out.splitlines()[-1].startswith("priced from measurements: ")
    code, out, _ = _run(capsys, "train", "--model", tiny_model, "--system", "h100-sxm",
                        "--seq", "128")
    assert code == 0 and "priced from measurements" not in out


def test_train_json_carries_the_share_of_the_step(capsys, tiny_model):
    argv = ("train", "--model", tiny_model, "--system", "dgx-h100", "--gpus", "2", "--tp", "2",
            "--seq", "128", "--recompute", "full", "--json")
    code, out, _ = _run(capsys, *argv, "--kernels", "measured")
    assert code == 0
    measured = json.loads(out)
    _check_share(measured)
    # the tables measure inference kernels: backward ones are the model's, and say why
    assert any(r["reason"].startswith("a backward kernel") for r in measured["fell_back"])
    model = json.loads(_run(capsys, *argv)[1])
    assert not set(SHARE_KEYS) & set(model)
    assert measured["step_time_s"] != pytest.approx(model["step_time_s"], rel=1e-4)


GRID = """models: [gpt2]
phases: [decode]
batch: [2]
context: [128]
devices: [h100-sxm, mi300x]
precisions: [bf16]
"""


def test_sweep_kernels_measured_prices_the_covered_device_and_says_which_are_not(
        capsys, tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    common = ("sweep", "--grid", str(grid), "--workers", "1", "--no-progress", "--json")
    code, out, err = _run(capsys, *common, "--out", str(tmp_path / "m"), "--kernels",
                          "measured")
    assert code == 0
    assert err.count("no measurements of") == 1 and "mi300x (trtllm)" in err
    data = json.loads(out)
    assert data["kernels"] == "measured" and data["unmeasured_devices"] == ["mi300x (trtllm)"]
    code, _, err = _run(capsys, *common, "--out", str(tmp_path / "p"))
    assert code == 0 and "no measurements" not in err
    measured = pd.read_parquet(tmp_path / "m").set_index("device")
    model = pd.read_parquet(tmp_path / "p").set_index("device")
    assert measured.loc["h100-sxm", "kernels"] == "measured"
    assert measured.loc["h100-sxm", "time_s"] != pytest.approx(model.loc["h100-sxm", "time_s"])
    assert measured.loc["mi300x", "time_s"] == model.loc["mi300x", "time_s"]
    assert measured.loc["mi300x", "kernels"] == model.loc["mi300x", "kernels"] == "model"


@pytest.mark.parametrize("kernels, fragment", [
    ("measured:{tmp}", "no imported records (kernels-full.json) there"),
    ("measured:", "name the folder after measured:"),
    ("fitted", "use model, measured or measured:DIR"),
])
def test_sweep_refuses_a_bad_kernels_value_in_one_sentence(capsys, tmp_path, kernels,
                                                           fragment):
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID)
    code, out, err = _run(capsys, "sweep", "--grid", str(grid), "--out", str(tmp_path / "o"),
                          "--no-progress", "--kernels", kernels.format(tmp=tmp_path))
    assert code == 2 and not out
    line = err.strip().splitlines()[-1]
    assert line.startswith("archsim: error: --kernels") and fragment in line
    assert not (tmp_path / "o").exists()
