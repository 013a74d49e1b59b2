"""The pure parts of benchmarks/bench_competitors.py and its runners: no network, no installs."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = ROOT / "benchmarks" / "competitors"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load(ROOT / "benchmarks" / "bench_competitors.py", "bench_competitors")


@pytest.fixture(scope="module")
def report():
    return _load(RUNNERS / "comparison.py", "comparison_under_test")


@pytest.fixture()
def runners(monkeypatch):
    monkeypatch.syspath_prepend(str(RUNNERS))
    return {n: _load(RUNNERS / f"{n}.py", n)
            for n in ("runner_protocol", "genz_runner", "llm_analysis_runner")}


def _job(bench):
    from hwspecs import load_device

    device = load_device("h100-sxm")
    return bench.build_job(bench.hardware_figures(device), bench._configs(bench.CASES),
                           bench.CASES, repeats=7)


def test_job_carries_the_shipped_h100_figures_and_catalog_shapes(bench):
    job = _job(bench)
    hw = job["hardware"]
    # h100-sxm.yaml: bf16 dense 989.4 TFLOPS, 3.35 TB/s, 80 GB, NVLink 450 GB/s per direction.
    assert hw["matrix_bf16_flops_per_s"] == pytest.approx(989.4e12)
    assert hw["mem_bw_bytes_per_s"] == pytest.approx(3.35e12)
    assert hw["mem_capacity_bytes"] == pytest.approx(80e9)
    assert hw["link_bw_bytes_per_s"] == pytest.approx(450e9)
    assert job["repeats"] == 7
    by_name = {c["name"]: c for c in job["cases"]}
    big = by_name["llama-2-70b TP8 batch 1"]
    assert big["tp"] == 8 and big["batch"] == 1 and big["prompt_len"] == 2048
    assert big["model"]["kv_heads"] == 8 and big["model"]["heads"] == 64
    assert big["model"]["intermediate_size"] == 28672 and big["model"]["gated_mlp"]
    small = by_name["llama-2-7b TP1 batch 1"]["model"]
    assert (small["layers"], small["hidden_size"], small["kv_heads"]) == (32, 4096, 32)
    json.dumps(job)   # the job crosses a process boundary as JSON


def test_job_rejects_no_repeats(bench):
    with pytest.raises(ValueError, match="--repeats"):
        bench.build_job({}, {}, (), repeats=0)


def test_venv_paths(bench, tmp_path, monkeypatch):
    assert bench.venv_root(str(tmp_path)) == tmp_path
    monkeypatch.setenv("ARCHSIM_CACHE_DIR", str(tmp_path / "cache"))
    assert bench.venv_root(None) == tmp_path / "cache" / "bench-venvs"
    venv = tmp_path / "genz"
    assert not bench.venv_ready(venv, "genz-llm==0.0.16")
    python = bench.venv_python(venv)
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert not bench.venv_ready(venv, "genz-llm==0.0.16")    # made, never finished installing
    (venv / bench._INSTALLED).write_text("genz-llm==0.0.16\n")
    assert bench.venv_ready(venv, "genz-llm==0.0.16")
    assert not bench.venv_ready(venv, "genz-llm==0.0.17")    # another pin: install again


def _fake_results():
    def case(name, t, pre, dec):
        return {"name": name, "time_per_prediction_s": t, "prefill_s": pre, "decode_s": dec}

    a, b = "m TP1 batch 1", "m TP8 batch 1"
    return {"archsim": {"simulate_inference": [case(a, 1e-3, 0.2, 0.01), case(b, 2e-3, 0.1, 0.02)],
                        "sweep": [case(a, 1e-5, 0.2, 0.01), {"name": b, "error": "no TP"}]},
            "genz": {"cases": [case(a, 0.5, 0.1, 0.02), {"name": b, "error": "boom"}]},
            "llm-analysis": {"error": "not installed"}}, [a, b]


def test_comparison_ratios_and_errors(report):
    results, names = _fake_results()
    records = report.comparison(results, names)
    assert len(records) == 8
    rec = {(r["case"], r["tool"], r["row"]): r for r in records}
    genz = rec[(names[0], "genz", "GenZ")]
    assert genz["time_per_prediction_vs_archsim"] == pytest.approx(500.0)
    assert genz["prefill_vs_archsim"] == pytest.approx(0.5)
    assert genz["decode_vs_archsim"] == pytest.approx(2.0)
    sweep = rec[(names[0], "archsim", "archsim sweep")]
    assert sweep["time_per_prediction_vs_archsim"] == pytest.approx(0.01)
    assert rec[(names[1], "genz", "GenZ")]["error"] == "boom"
    assert rec[(names[1], "llm-analysis", "llm-analysis")]["error"] == "not installed"
    rows, notes = report.table_rows(records)
    assert rows[2][3] == "500x" and rows[2][5] == "0.5x"
    assert [r[2] for r in rows] == ["1,000.0 us", "10.0 us", "500,000.0 us", "n/a [1]",
                                    "2,000.0 us", "n/a [2]", "n/a [3]", "n/a [1]"]
    assert notes == ["[1] llm-analysis: not installed", "[2] archsim sweep: no TP",
                     "[3] GenZ: boom"]


def test_verdicts(report):
    results, names = _fake_results()
    lines = report.verdicts(report.comparison(results, names))
    # GenZ ran one case: 0.5 s against 1 ms (simulate_inference) and 10 us (sweep).
    assert "GenZ takes 500x to 500x the time of archsim per prediction (1 cases): archsim " \
        "meets the target of 500x faster" in lines
    assert any(line.startswith("GenZ takes 5e+04x to 5e+04x the time of archsim sweep")
               for line in lines)
    assert any("archsim vs llm-analysis: no common measurement" in line for line in lines)
    results["genz"]["cases"][0]["time_per_prediction_s"] = 0.2   # 200x: below 500x
    lines = report.verdicts(report.comparison(results, names))
    assert any("(1 cases): archsim misses the target of 500x" in line for line in lines)
    # ... while a sweep point (10 us) is still 20,000x: above its 100x.
    assert any("archsim sweep per prediction (1 cases): archsim sweep meets the target of "
               "100x" in line for line in lines)


def test_median_time_stops_at_the_budget(runners):
    proto = runners["runner_protocol"]
    calls = []
    seconds, done = proto.median_time_s(lambda: calls.append(1), repeats=1000, budget_s=-1.0)
    assert done == proto.MIN_REPEATS and len(calls) == proto.MIN_REPEATS + 1   # + warm-up
    assert seconds >= 0
    _, done = proto.median_time_s(lambda: None, repeats=3, budget_s=60.0)
    assert done == 3


def test_runner_protocol_reports_values_and_errors(runners, monkeypatch, capsys):
    proto = runners["runner_protocol"]

    def predict(hw, case):
        if case["tp"] > 1:
            raise ValueError("no TP here")
        print("chatter a tool prints")   # must not reach the JSON on stdout
        return hw["x"] * 2, 0.5

    job = {"hardware": {"x": 1.5}, "repeats": 3, "budget_s": 10,
           "cases": [{"name": "a", "tp": 1}, {"name": "b", "tp": 8}]}
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(job)))
    proto.serve("tool", "1.0", "none", predict)
    out = json.loads(capsys.readouterr().out)
    a, b = out["cases"]
    assert (a["prefill_s"], a["decode_s"], a["repeats"]) == (3.0, 0.5, 3)
    assert b["error"] == "ValueError: no TP here"
    assert (out["tool"], out["version"]) == ("tool", "1.0")


def test_runners_hand_over_the_same_bytes_and_flops(bench, runners):
    job = _job(bench)
    hw = job["hardware"]
    big = next(c for c in job["cases"] if c["tp"] == 8)["model"]
    small = next(c for c in job["cases"] if c["tp"] == 1)["model"]
    genz = runners["genz_runner"].system_spec(hw)
    # GenZ reads GB and GB/s as binary units and TFLOPS as decimal ones.
    assert genz["Memory_BW"] * 2**30 == pytest.approx(3.35e12)
    assert genz["ICN"] * 2**30 == pytest.approx(450e9)
    assert genz["Memory_size"] * 2**30 == pytest.approx(80e9)
    assert genz["Flops"] == pytest.approx(989.4) and genz["real_values"] is True
    kw = runners["genz_runner"].model_kwargs(big)
    assert (kw["num_ffi"], kw["num_key_value_heads"], kw["num_decoder_layers"]) == (2, 8, 80)
    la = runners["llm_analysis_runner"]
    gpu = la.gpu_config_kwargs(hw)
    # llm-analysis multiplies capacity by 1024**3 and bandwidths by 10**9.
    assert gpu["mem_per_GPU_in_GB"] * 1024**3 == pytest.approx(80e9)
    assert gpu["hbm_bandwidth_in_GB_per_sec"] == pytest.approx(3350)
    assert gpu["intra_node_bandwidth_in_GB_per_sec"] == pytest.approx(450)
    assert gpu["peak_fp16_TFLOPS"] == pytest.approx(989.4)
    model = la.model_config_kwargs(small)
    # Two matrices of 16,512 hold the weights of Llama-2-7B's three of 11,008.
    assert model["ffn_embed_dim"] == 16512 and 2 * 16512 == 3 * 11008
    assert model["expansion_ratio"] * 4096 == pytest.approx(16512)
    assert la.model_config_kwargs(big)["num_key_value_heads"] == 8


def test_report_prints_rows_footnotes_and_assumptions(bench, report, capsys):
    results, names = _fake_results()
    job = _job(bench)
    results["job"] = job
    results["archsim"]["assumptions"] = "matrix 0.8"
    results["archsim"]["sweep"][0]["variants"] = 400
    results["genz"].update(version="0.0.16", assumptions="efficiency 1")
    report.print_report(results, report.comparison(results, names), ["genz: reused /x"])
    out = capsys.readouterr().out
    assert out.startswith("genz: reused /x\nSame H100 figures to all: bf16 dense 989.4 TFLOP/s")
    assert "500x" in out and "[1] llm-analysis: not installed" in out
    assert "over 400 spec variants" in out
    assert "  genz 0.0.16: efficiency 1" in out and "  llm-analysis: not installed" in out
