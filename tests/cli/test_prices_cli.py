"""Prices the user controls and precisions apart (issue 17): `--usd-per-gpu-hour` scales every
dollar figure by the rent and leaves every time as it was, on each command that prices; FP8
weights with a BF16 KV cache (vLLM's default) is expressible and priced with the KV cache at
2 bytes an element; `--dtype fp8` keeps the KV cache in bf16 unless `--kv-dtype` asks."""

from __future__ import annotations

import json

import pytest

import archsim
from hwspecs.registry import load_device
from tests.simulator.serving import serving_fixtures

tiny_model = serving_fixtures.tiny_model
H100 = load_device("h100-sxm").rent_usd_per_hour


def _json(capsys, *argv) -> dict:
    code = archsim.main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def _assert_scaled(base: dict, priced: dict, factor: float) -> None:
    """Every dollar key scaled by `factor`, every time key equal."""
    dollars = [k for k in base if k.startswith("usd") and base[k] is not None]
    times = [k for k in base if k.endswith("_s") and isinstance(base[k], float)]
    assert dollars and times
    for k in dollars:
        assert priced[k] == pytest.approx(factor * base[k], rel=1e-12), k
    for k in times:
        assert priced[k] == base[k], k


def test_simulate_rent_scales_dollars_and_leaves_times(capsys):
    argv = ("simulate", "--model", "llama-2-7b", "--hw", "h100-sxm", "--phase", "decode",
            "--batch", "8", "--context", "1024")
    base = _json(capsys, *argv)
    assert base["usd_per_hour"] == pytest.approx(H100)                # the spec's rent
    _assert_scaled(base, _json(capsys, *argv, "--usd-per-gpu-hour", "3"), 3 / H100)
    _assert_scaled(base, _json(capsys, *argv, "--usd-per-gpu-hour", "h100-sxm=1.5,9"),
                   1.5 / H100)                                        # its own beats the rest


def test_compare_prices_only_the_device_named(capsys):
    argv = ("compare", "--model", "llama-2-7b", "--hw", "h100-sxm,mi300x", "--phase",
            "prefill", "--seq", "512")
    base = {r["device"]: r for r in _json(capsys, *argv)}
    new = {r["device"]: r for r in _json(capsys, *argv, "--usd-per-gpu-hour", "mi300x=3")}
    assert new["h100-sxm"] == base["h100-sxm"]
    _assert_scaled(base["mi300x"], new["mi300x"], 3 / load_device("mi300x").rent_usd_per_hour)


def test_tco_inputs_change_the_dollars(capsys):
    argv = ("simulate", "--model", "llama-2-7b", "--hw", "h100-sxm", "--pricing", "tco")
    base = _json(capsys, *argv)
    cheaper = _json(capsys, *argv, "--purchase-usd", "12500", "--usd-per-kwh", "0.05")
    assert cheaper["usd_per_hour"] == pytest.approx(base["usd_per_hour"] / 2)  # both halved
    longer = _json(capsys, *argv, "--tco-years", "8", "--tco-utilization", "1")
    assert longer["usd_per_hour"] < base["usd_per_hour"]
    assert longer["time_s"] == base["time_s"]


def test_infer_and_train_take_the_rent(capsys, tiny_model):
    argv = ("infer", "--model", tiny_model, "--system", "h100-sxm", "--batch", "4",
            "--input-len", "256", "--output-len", "16")
    base = _json(capsys, *argv)
    _assert_scaled(base, _json(capsys, *argv, "--usd-per-gpu-hour", "2"), 2 / H100)
    argv = ("train", "--model", tiny_model, "--system", "dgx-h100", "--tp", "2", "--gpus", "2",
            "--global-batch", "4", "--seq", "128", "--tokens", "1e9")
    base = _json(capsys, *argv)
    new = _json(capsys, *argv, "--usd-per-gpu-hour", "2")
    assert new["usd"] == pytest.approx(base["usd"] * 2 / H100)
    assert new["step_time_s"] == base["step_time_s"] and new["days"] == base["days"]


def test_a_bad_price_is_one_line_naming_it(capsys):
    for price, words in (("h100=2", "'h100' is not a shipped device"),
                         ("0", "above 0"), ("h100-sxm=2,h100-sxm=3", "twice")):
        code = archsim.main(["simulate", "--hw", "h100-sxm", "--usd-per-gpu-hour", price])
        err = capsys.readouterr().err
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err


def _kv_and_weights(capsys, model, *precision) -> tuple[float, float, dict]:
    data = _json(capsys, "infer", "--model", model, "--system", "h100-sxm", "--batch", "4",
                 "--input-len", "256", "--output-len", "16", *precision)
    parts = data["memory_breakdown"]
    return parts["kv_cache_bytes"], parts["weights_bytes"], data


def test_fp8_weights_keep_a_bf16_kv_cache_unless_asked(capsys, tiny_model):
    kv16, w16, _ = _kv_and_weights(capsys, tiny_model)
    kv, w, fp8 = _kv_and_weights(capsys, tiny_model, "--dtype", "fp8")
    assert kv == kv16 and w == pytest.approx(w16 / 2)           # KV at 2 B/element
    assert fp8["usd_per_1m_output_tokens"] is not None         # and priced
    kv_asked, _, _ = _kv_and_weights(capsys, tiny_model, "--dtype", "fp8", "--kv-dtype", "fp8")
    assert kv_asked == pytest.approx(kv16 / 2)
    # vLLM's default spelled out: the same as --dtype fp8 alone
    kv_vllm, w_vllm, _ = _kv_and_weights(capsys, tiny_model, "--dtype", "fp8",
                                         "--weights-dtype", "fp8", "--kv-dtype", "bf16")
    assert (kv_vllm, w_vllm) == (kv, w)


def test_plan_capacity_axes_are_every_combination_and_its_rent_flag_parses():
    # The planner's own search is tested in tests/simulator/serving; here the flags it gets.
    from archsim_cli.app import build_parser
    from archsim_cli.args import cost_options_of, precision_specs
    from simulator import Precision

    args = build_parser().parse_args([
        "plan-capacity", "--hw", "h100-sxm,mi300x", "--dtype", "bf16,fp8", "--weights-dtype",
        "fp8", "--kv-dtype", "bf16,fp8", "--usd-per-gpu-hour", "dgx-h100=2.5,3"])
    specs = precision_specs(args)
    assert specs == ("bf16/w=fp8", "bf16/w=fp8/kv=fp8", "fp8", "fp8/kv=fp8")
    vllm = Precision.parse("fp8")                  # FP8 weights and compute, bf16 KV cache
    assert (vllm.weights.value, vllm.activations.value, vllm.kv_cache.value) == \
        ("fp8", "fp8", "bf16")
    assert vllm.kv_cache.bytes == 2
    cost = cost_options_of(args)
    # a system names its device; the bare number prices every other device
    assert cost.rent_usd_per_s(load_device("mi300x")) * 3600 == pytest.approx(3)
    assert cost.rent_usd_per_s(load_device("h100-sxm")) * 3600 == pytest.approx(2.5)


def test_serve_prices_its_gpus_at_the_rent(capsys, tiny_model):
    argv = ("serve", "--model", tiny_model, "--system", "h100-sxm", "--replicas", "2",
            "--qps", "5", "--duration", "5", "--input-len", "128", "--output-len", "16")
    base = _json(capsys, *argv)
    assert base["gpus"] == 2 and base["usd_per_hour"] == pytest.approx(2 * H100)
    _assert_scaled(base, _json(capsys, *argv, "--usd-per-gpu-hour", "2"), 2 / H100)
    closed = _json(capsys, "serve", "--model", tiny_model, "--system", "h100-sxm",
                   "--concurrency", "4", "--requests", "12", "--input-len", "128",
                   "--output-len", "16", "--usd-per-gpu-hour", "2")
    assert closed["usd_per_hour"] == pytest.approx(2 * closed["gpus"])
