"""`archsim plan-capacity`: one option a device cannot run is refused alone (issue 19), and the
concurrency sweep (issue 16) prints, writes and draws the points with their Pareto front."""

from __future__ import annotations

import json

import archsim
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_option_the_device_cannot_run_is_refused_alone(capsys, tiny_model):
    # Before: the A100's missing fp8 peak ended the whole run with exit 2.
    code, out, err = _run(capsys, "plan-capacity", "--model", tiny_model, "--qps", "5",
                          "--slo-ttft-p99", "1", "--slo-tpot-p99", "0.1", "--hw",
                          "h100-sxm,a100-sxm-80gb", "--tp", "1", "--dtype", "bf16,fp8",
                          "--requests", "40", "--json")
    assert code == 0, err
    data = json.loads(out)
    ranked = {(c["hardware"], c["precision"]) for c in data["ranked"]}
    assert ranked == {("h100-sxm", "bf16"), ("h100-sxm", "fp8"), ("a100-sxm-80gb", "bf16")}
    (refused,) = data["refused"]
    assert (refused["hardware"], refused["precision"], refused["kind"]) == \
        ("a100-sxm-80gb", "fp8", "device")
    assert "no dense fp8 matrix peak" in refused["reason"]


def test_the_concurrency_sweep_writes_the_points_csv_and_chart(capsys, tiny_model, tmp_path):
    csv, png = tmp_path / "points.csv", tmp_path / "sweep.png"
    code, out, err = _run(capsys, "plan-capacity", "--model", tiny_model, "--hw", "dgx-h100",
                          "--tp", "1,2,3", "--concurrency", "1,8,64", "--disagg",
                          "--engine", "sglang", "--input-len", "256", "--output-len", "64",
                          "--slo-tpot-p99", "0.01", "--csv", str(csv), "--plot", str(png),
                          "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["points"]) == 2 * 2 * 3          # TP 1 and 2, agg and disagg, 3 loops
    assert {r["tp"] for r in data["refused"]} == {3}
    assert all("heads" in r["reason"] for r in data["refused"])
    assert data["pareto"] and all(p["pareto"] for p in data["pareto"])
    disagg = [p for p in data["points"] if p["mode"] == "disagg"]
    assert all(p["gpus"] == 2 * p["tp"] for p in disagg)
    assert csv.read_text().splitlines()[0].startswith("hardware,device,mode,tp")
    assert png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = _run(capsys, "plan-capacity", "--model", tiny_model, "--hw", "h100-sxm",
                        "--tp", "1", "--concurrency", "1,4")
    assert code == 0 and "tok/s/GPU" in out and "Pareto" in out


def test_neither_a_rate_nor_a_sweep_is_one_line(capsys, tiny_model):
    code, _, err = _run(capsys, "plan-capacity", "--model", tiny_model, "--hw", "h100-sxm")
    assert code == 2 and "--qps" in err and len(err.strip().splitlines()) == 1


def test_the_engine_and_the_kernel_source_reach_the_capacity_plan(capsys, tiny_model, tmp_path):
    # Before: plan-capacity's --engine set the scheduler only; kernels were always priced
    # with the TensorRT-LLM profile.
    base = ("plan-capacity", "--model", tiny_model, "--qps", "5", "--slo-ttft-p99", "1",
            "--slo-tpot-p99", "0.1", "--hw", "h100-sxm", "--tp", "1", "--requests", "40",
            "--max-replications", "4", "--max-seqs", "64", "--json")
    latencies = {}
    for engine in ("trtllm", "vllm"):
        code, out, err = _run(capsys, *base, "--engine", engine)
        assert code == 0, err
        (best, *_) = json.loads(out)["ranked"]
        latencies[engine] = (best["ttft_p99_s"], best["tpot_p99_s"])
    assert latencies["trtllm"] != latencies["vllm"]
    code, out, err = _run(capsys, *base, "--kernels", "measured", "--engine", "trtllm")
    assert code == 0, err
    code, out, err = _run(capsys, *base, "--kernels", f"measured:{tmp_path}")
    assert code == 2 and not out
    assert "no imported records" in err and len(err.strip().splitlines()) == 1
