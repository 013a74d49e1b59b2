"""The plan and precision flags of issue 15 as a user types them: --pp-layers, --attn-dp,
--no-fuse mla_absorb, block-scaled formats and named precisions, and the position warning."""

from __future__ import annotations

import json

import pytest

import archsim
from tests.workloads.tiny_models import write_tiny


def _run(capsys, *argv):
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan-flags")
    return {name: write_tiny(folder, name, **extra) for name, extra in (
        ("tiny-llama", {"num_hidden_layers": 3}), ("tiny-mixtral", {}),
        ("tiny-deepseek-v3", {}), ("tiny-gptj", {}))}


def _infer(capsys, model, *flags):
    code, out, err = _run(capsys, "infer", "--model", model, "--system", "dgx-h100", "--batch",
                          "4", "--input-len", "32", "--output-len", "8", "--json", *flags)
    return code, (json.loads(out) if code == 0 else None), err


def test_pp_layers_sets_the_stages(capsys, models):
    code, data, _ = _infer(capsys, models["tiny-llama"], "--pp-layers", "2,1")
    assert code == 0 and data["plan"]["pp"] == 2 and data["plan"]["pp_layers"] == [2, 1]
    code, data, _ = _infer(capsys, models["tiny-llama"], "--pp", "2")       # 3 layers: 2, 1
    assert code == 0 and data["plan"]["pp_layers"] is None
    code, _, err = _infer(capsys, models["tiny-llama"], "--pp-layers", "1,1")
    assert code == 2 and "add up to 2 layers" in err and "has 3" in err
    code, out, err = _run(capsys, "train", "--model", models["tiny-llama"], "--system",
                          "dgx-h100", "--pp-layers", "1,2", "--seq", "64", "--global-batch",
                          "4", "--json")
    assert code == 0 and json.loads(out)["plan"]["pp"] == 2


def test_attention_dp_with_expert_parallelism(capsys, models):
    code, tp, _ = _infer(capsys, models["tiny-mixtral"], "--tp", "2")
    code2, adp, _ = _infer(capsys, models["tiny-mixtral"], "--tp", "1", "--attn-dp", "2",
                           "--ep", "2")
    assert code == code2 == 0 and adp["gpus"] == 2 and adp["plan"]["attn_dp"] == 2
    assert adp["memory_breakdown"]["weights_bytes"] > tp["memory_breakdown"]["weights_bytes"]
    code, _, err = _infer(capsys, models["tiny-llama"], "--attn-dp", "2", "--ep", "2")
    assert code == 2 and "needs a mixture-of-experts model" in err


def test_mla_absorb_can_be_switched_off(capsys, models):
    code, on, _ = _infer(capsys, models["tiny-deepseek-v3"])
    code2, off, _ = _infer(capsys, models["tiny-deepseek-v3"], "--no-fuse", "mla_absorb")
    assert code == code2 == 0 and off["flops"] > on["flops"]
    code, _, err = _infer(capsys, models["tiny-deepseek-v3"], "--no-fuse", "mla_absrob")
    assert code == 2 and "did you mean mla_absorb" in err


def test_block_scaled_formats_where_the_device_has_them(capsys, models):
    base = ("simulate", "--model", models["tiny-llama"], "--phase", "decode", "--batch", "2",
            "--context", "32", "--json")
    code, out, _ = _run(capsys, *base, "--hw", "b200", "--dtype", "nvfp4")
    # a compute format below 16 bits keeps the KV cache in bf16 unless --kv-dtype (issue 17)
    assert code == 0 and json.loads(out)["precision"] == "Wnvfp4/Anvfp4/KVbf16"
    code, out, _ = _run(capsys, *base, "--hw", "h100-sxm", "--dtype", "w4a8", "--weights-dtype",
                        "mxfp4")
    assert code == 0 and json.loads(out)["precision"] == "Wmxfp4/Afp8/KVbf16"
    code, _, err = _run(capsys, *base, "--hw", "h100-sxm", "--dtype", "nvfp4")
    assert code == 2 and "has no dense nvfp4 matrix peak" in err and len(err.splitlines()) == 1
    code, _, err = _run(capsys, *base, "--hw", "mi300x", "--weights-dtype", "mxfp4")
    assert code == 2 and "'mi300x' runs no mxfp4 weights" in err


def test_rotary_positions_past_the_trained_range_warn_and_run(capsys, models):
    code, out, err = _run(capsys, "infer", "--model", models["tiny-gptj"], "--system",
                          "h100-sxm", "--input-len", "64", "--output-len", "16", "--json")
    assert code == 0 and json.loads(out)["tpot_s"] > 0
    assert err.count("archsim: warning:") == 1 and "trained on 64 positions" in err
