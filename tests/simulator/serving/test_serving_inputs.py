"""Serving inputs: length distributions, arrivals, traces (and their errors), the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import archsim
from simulator.serving.arrivals import arrival_times, read_trace
from simulator.serving.lengths import parse_length
from simulator.serving.simulation import Traffic, simulate_serving
from tests.simulator.serving import serving_fixtures

tiny_cost = serving_fixtures.tiny_cost
tiny_model = serving_fixtures.tiny_model
tiny_spec = serving_fixtures.tiny_spec


@pytest.mark.parametrize("text, kind, mean", [("512", "fixed", 512),
                                              ("uniform:128:1024", "uniform", 576),
                                              ("lognormal:512:0.5", "lognormal", 512)])
def test_length_distributions_have_their_mean(text, kind, mean):
    d = parse_length(text)
    x = d.sample(20000, np.random.default_rng(1))
    assert d.kind == kind and x.min() >= 1 and x.max() <= d.max_tokens
    assert x.mean() == pytest.approx(mean, rel=0.02)


@pytest.mark.parametrize("text", ["abc", "uniform:10", "normal:1:2", "0", "uniform:9:3",
                                  "lognormal:100:-1"])
def test_bad_length_distributions_are_refused(text):
    with pytest.raises(ValueError, match="length distribution"):
        parse_length(text)


@pytest.mark.parametrize("cv", [1.0, 3.0])
def test_arrivals_have_the_rate_and_the_burstiness(cv):
    t = arrival_times(50.0, 400.0, np.random.default_rng(2), cv=cv)
    gaps = np.diff(t)
    assert len(t) / 400.0 == pytest.approx(50.0, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.15)


@pytest.mark.parametrize("rate", [0.0, -2.0, float("nan")])
def test_a_rate_that_is_not_positive_is_refused(rate):
    with pytest.raises(ValueError, match="rate must be a positive"):
        arrival_times(rate, 10.0, np.random.default_rng(0))


def test_a_trace_is_read_sorted_and_served(tmp_path, tiny_spec, tiny_cost):
    path = tmp_path / "trace.csv"
    path.write_text("arrival_s,input_len,output_len\n0.5,100,10\n0.0,50,5\n\n1.0,200,1\n")
    reqs = read_trace(path)
    assert list(reqs.arrival_s) == [0.0, 0.5, 1.0] and list(reqs.input_len) == [50, 100, 200]
    r = simulate_serving(tiny_spec, Traffic(trace=path), cost=tiny_cost)
    frame = r.requests_frame()
    assert len(frame) == 3 and frame["e2e_s"].notna().all()
    assert np.isnan(frame["tpot_s"].iloc[2])        # one output token: no TPOT


@pytest.mark.parametrize("body, where", [
    ("time,in,out\n1,2,3\n", "line 1: the header"),
    ("arrival_s,input_len,output_len\n0,10,5\n0.1,ten,5\n", "line 3: field input_len"),
    ("arrival_s,input_len,output_len\n-1,10,5\n", "line 2: field arrival_s"),
    ("arrival_s,input_len,output_len\n0,10,2.5\n", "line 2: field output_len"),
    ("arrival_s,input_len,output_len\n0,10\n", "line 2: expected 3 fields"),
    ("arrival_s,input_len,output_len\n", "holds no requests")])
def test_a_malformed_trace_names_the_line_and_the_field(tmp_path, body, where):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=where):
        read_trace(path)


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_json_has_the_keys_and_writes_the_csv(capsys, tiny_model, tmp_path):
    csv = tmp_path / "requests.csv"
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, "--system", "h100-sxm",
                        "--replicas", "2", "--qps", "200", "--duration", "1", "--input-len",
                        "uniform:32:128", "--output-len", "lognormal:32:0.5", "--slo-ttft",
                        "0.01", "--slo-tpot", "0.01", "--seed", "3", "--json", "--csv",
                        str(csv))
    assert code == 0
    data = json.loads(out)
    for key in ("ttft_p50_s", "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "output_tokens_per_s",
                "goodput_rps", "completed", "dropped"):
        assert key in data
    lines = csv.read_text().splitlines()
    assert lines[0].startswith("arrival_s,input_len,output_len")
    assert len(lines) - 1 == data["completed"] + data["dropped"]


def test_serve_prints_tables_and_the_timeline(capsys, tiny_model, tmp_path):
    path = tmp_path / "timeline.csv"
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, "--qps", "50", "--duration",
                        "1", "--tp", "2", "--system", "dgx-h100", "--timeline-csv", str(path))
    assert code == 0 and "time to first token" in out and "goodput" in out
    lines = path.read_text().splitlines()
    assert lines[0] == "time_s,queue,running,kv_blocks,replica,kv_used_fraction"
    assert len(lines) > 10


@pytest.mark.parametrize("argv, message", [
    (["--qps", "0"], "rate must be a positive"),
    (["--input-len", "uniform:5"], "length distribution"),
    (["--replicas", "0"], "replicas must be at least 1")])
def test_serve_bad_input_is_one_line_and_exit_2(capsys, tiny_model, argv, message):
    code, _, err = _run(capsys, "serve", "--model", tiny_model, "--duration", "1", *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
