"""`archsim serve` closed loop and engine presets from the command line, and the serving runs
that cannot work: one sentence and a non-zero exit, never `nan ms` or a traceback."""

from __future__ import annotations

import json

import pytest

import archsim
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model

KEYS = ("ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "tpot_mean_s", "tpot_p50_s", "tpot_p99_s",
        "itl_mean_s", "e2e_latency_mean_s", "requests_per_s", "output_tokens_per_s",
        "output_tokens_per_s_per_gpu", "output_tokens_per_s_per_user")


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_closed_loop_json_has_the_keys_with_the_engine_preset(capsys, tiny_model):
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, "--system", "dgx-h100",
                        "--tp", "2", "--concurrency", "16", "--input-len", "256",
                        "--output-len", "64", "--engine", "trtllm", "--dtype", "fp8",
                        "--json")
    assert code == 0
    data = json.loads(out)
    for key in KEYS:
        assert data[key] > 0, key
    assert data["gpus"] == 2 and data["concurrency"] == 16 and data["requests"] == 160
    assert data["output_tokens_per_s_per_gpu"] == pytest.approx(
        data["output_tokens_per_s"] / 2)
    engine = data["engine"]
    assert engine["engine"] == "trtllm" and engine["block_size"] == 32
    assert not engine["chunked_prefill"] and engine["sources"]["max_seqs"]


def test_a_flag_overrides_its_preset_value(capsys, tiny_model):
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, "--concurrency", "8",
                        "--engine", "vllm", "--max-seqs", "4", "--chunked-prefill",
                        "--block-size", "32", "--json")
    assert code == 0
    engine = json.loads(out)["engine"]
    assert (engine["max_seqs"], engine["block_size"]) == (4, 32)
    assert engine["sources"]["max_seqs"] == "set by the user"
    assert engine["max_batched_tokens"] == 8192          # the preset's, not overridden


def test_closed_loop_tables_show_the_point_and_the_preset(capsys, tiny_model, tmp_path):
    path = tmp_path / "requests.csv"
    code, out, _ = _run(capsys, "serve", "--model", tiny_model, "--concurrency", "4",
                        "--engine", "sglang", "--csv", str(path))
    assert code == 0
    assert "output tokens/s per GPU" in out and "per user" in out
    assert "Engine preset: SGLang" in out and "page_size 1" in out
    lines = path.read_text().splitlines()
    assert lines[0].startswith("sent_s,input_len,output_len") and len(lines) > 40


@pytest.mark.parametrize("mode", [["--concurrency", "4"], ["--qps", "5", "--duration", "2"]])
def test_no_request_ever_schedulable_is_one_sentence_and_exit_2(capsys, tiny_model, mode):
    # Issue 19, item 8: this exited 0 printing `nan ms`.
    code, out, err = _run(capsys, "serve", "--model", tiny_model, *mode,
                          "--max-batched-tokens", "1", "--no-chunked-prefill")
    assert code == 2 and "nan" not in out
    assert "no request can ever be scheduled" in err and len(err.strip().splitlines()) == 1
    assert "chunked prefill is off" in err


@pytest.mark.parametrize("argv, message", [
    # Issue 19, item 10: OverflowError and numpy MemoryError before.
    (["--duration", "inf"], "duration must be a finite number"),
    (["--qps", "10000", "--duration", "1e6"], "about 1e+10 requests"),
    (["--cv", "nan"], "coefficient of variation"),
    (["--concurrency", "0"], "concurrency must be a whole number"),
    (["--concurrency", "8", "--requests", "4"], "at least that many requests")])
def test_work_and_inputs_out_of_range_are_refused_before_any_work(capsys, tiny_model, argv,
                                                                   message):
    code, _, err = _run(capsys, "serve", "--model", tiny_model, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_some_requests_dropped_are_counted_with_the_reason(capsys, tiny_model):
    code, out, err = _run(capsys, "serve", "--model", tiny_model, "--qps", "20", "--duration",
                          "2", "--input-len", "uniform:16:64", "--max-batched-tokens", "32",
                          "--no-chunked-prefill", "--json")
    data = json.loads(out)
    assert code == 0 and 0 < data["dropped"] < data["completed"] + data["dropped"]
    (reason, count), = data["dropped_reasons"].items()
    assert count == data["dropped"] and "longer than the token budget" in reason
