"""`archsim infer` as a user runs it, on a tiny Llama config (a fast trace)."""

from __future__ import annotations

import json

import pytest

import archsim
from tests.cli.test_training_cli import TINY_LLAMA


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny-llama-infer")
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA))
    return str(folder)


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_json_has_the_keys(capsys, tiny):
    code, out, _ = _run(capsys, "infer", "--model", tiny, "--system", "dgx-h100", "--tp", "2",
                        "--batch", "4", "--input-len", "128", "--output-len", "16", "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "tokens_per_s", "tokens_per_s_per_gpu",
                "memory_bytes_per_gpu", "feasible"):
        assert key in data
    assert data["gpus"] == 2
    assert data["e2e_latency_s"] == pytest.approx(data["ttft_s"] + 15 * data["tpot_s"])
    assert data["tokens_per_s"] == pytest.approx(4 * 16 / data["e2e_latency_s"])


def test_infer_on_a_bare_device_scales_it_to_the_gpus(capsys, tiny):
    code, out, _ = _run(capsys, "infer", "--model", tiny, "--system", "h100-sxm", "--tp", "4",
                        "--batch", "4", "--input-len", "128", "--output-len", "16")
    assert code == 0 and "4 x h100-sxm:" in out


def test_infer_search_and_bad_input(capsys, tiny):
    code, out, _ = _run(capsys, "infer", "--model", tiny, "--system", "dgx-h100", "--search",
                        "--batch", "8", "--input-len", "128", "--output-len", "16", "--json")
    assert code == 0
    data = json.loads(out)
    per_gpu = [r["tokens_per_s_per_gpu"] for r in data["ranked"]]
    assert per_gpu and per_gpu == sorted(per_gpu, reverse=True)
    # Each ranked plan carries its family's published error (or says none validates it).
    assert all(r["family_error"]["family"].startswith("infer: ") for r in data["ranked"])
    assert {r["family_error"]["status"] for r in data["ranked"]} <= {"validated", "off",
                                                                     "unvalidated"}
    code, _, err = _run(capsys, "infer", "--model", tiny, "--system", "dgx-h100", "--tp", "16")
    assert code == 2 and "tp=16 does not divide the 8 attention heads" in err
