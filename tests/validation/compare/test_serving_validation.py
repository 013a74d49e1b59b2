"""`validate --serving`: the silicon_sample reader, each run's setup (or why it has none), the
simulated rows and their error summary, on a small fixture of a tiny model; and the shipped
H100 runs all read, every aggregated run of a catalog model set up."""

from __future__ import annotations

import csv
import json

import pytest

import archsim
from hwspecs.dtypes import DType
from tests.simulator.serving import serving_fixtures
from validation.compare.serving import validate_serving
from validation.compare.serving_runs import (
    SHIPPED,
    checkpoint_mode,
    precision_of,
    read_runs,
    recorded_concurrency,
    run_setup,
)
from workloads.catalog_ids import resolve

tiny_model = serving_fixtures.tiny_model

HEADER = ("id,silicon_data_source,backend,backend_version,model_path,system,precision,mode,isl,"
          "osl,gemm_quant_mode,moe_quant_mode,batch_size,tp_size,pp_size,attention_dp_size,"
          "moe_tp_size,moe_ep_size,prefill_batch_size,prefill_num_workers,prefill_tp_size,"
          "prefill_pp_size,prefill_attention_dp_size,prefill_moe_tp_size,prefill_moe_ep_size,"
          "decode_batch_size,decode_num_workers,decode_tp_size,decode_pp_size,"
          "decode_attention_dp_size,decode_moe_tp_size,decode_moe_ep_size,silicon_ttft_ms,"
          "silicon_tpot_ms").split(",")


def _row(**kw) -> dict:
    row = dict.fromkeys(HEADER, "")
    row.update({"backend": "trtllm", "backend_version": "1.0.0rc3", "system": "h100_sxm",
                "mode": "agg", "isl": "256", "osl": "64", "batch_size": "8", "tp_size": "1",
                "pp_size": "1", "silicon_ttft_ms": "10", "silicon_tpot_ms": "1"})
    row.update({k: str(v) for k, v in kw.items()})
    return row


@pytest.fixture()
def fixture_csv(tmp_path, tiny_model):
    rows = [
        _row(id="agg-trtllm", model_path=tiny_model),
        _row(id="agg-vllm-fp8", model_path=tiny_model, backend="vllm", precision="fp8",
             gemm_quant_mode="fp8", tp_size=2, batch_size=16),
        _row(id="agg-sglang", model_path=tiny_model, backend="sglang", batch_size=4),
        _row(id="disagg", model_path=tiny_model, backend="sglang", mode="disagg", batch_size="",
             prefill_num_workers=1, prefill_tp_size=1, decode_batch_size=8,
             decode_num_workers=2, decode_tp_size=2),
        _row(id="unknown-model", model_path="nobody/No-Such-Model-7B"),
        _row(id="adp", model_path=tiny_model, attention_dp_size=4, moe_tp_size=1, moe_ep_size=2),
        _row(id="int3", model_path=tiny_model, gemm_quant_mode="int3"),
        _row(id="tpu", model_path=tiny_model, system="tpu_v5"),
        _row(id="disagg-no-workers", model_path=tiny_model, mode="disagg", batch_size=""),
    ]
    path = tmp_path / "runs.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


def test_every_row_is_simulated_or_skipped_with_its_reason(fixture_csv):
    result = validate_serving(fixture_csv).as_dict()
    rows = {r["id"]: r for r in result["rows"]}
    assert set(rows) == {"agg-trtllm", "agg-vllm-fp8", "agg-sglang", "disagg"}
    skipped = {s["id"]: s["reason"] for s in result["skipped"]}
    assert "not in the catalog" in skipped["unknown-model"]
    assert "moe_tp_size 1 x moe_ep_size 2 is not the 4 GPUs" in skipped["adp"]
    assert "precision 'int3'" in skipped["int3"]
    assert "system 'tpu_v5'" in skipped["tpu"]
    assert "worker counts" in skipped["disagg-no-workers"]
    for r in rows.values():
        assert r["predicted_ttft_s"] > 0 and r["predicted_tpot_s"] > 0
        assert r["ttft_error"] == pytest.approx(r["predicted_ttft_s"] / r["measured_ttft_s"] - 1)
        assert r["tpot_error"] == pytest.approx(r["predicted_tpot_s"] / r["measured_tpot_s"] - 1)
    assert rows["disagg"]["gpus"] == 1 + 2 * 2 and rows["disagg"]["concurrency"] == 16
    assert rows["agg-vllm-fp8"]["gpus"] == 2
    s = result["summary"]
    assert s["ttft"]["rows"] == s["tpot"]["rows"] == 4
    assert s["tpot"]["median_abs_error"] <= s["tpot"]["p90_abs_error"]
    assert set(result["by_engine"]) == {"trtllm", "vllm", "sglang"}
    assert result["by_engine"]["sglang"]["ttft"]["rows"] == 2
    assert "aiconfigurator" in result["citation"]


def test_validate_serving_cli_prints_the_summary_format(capsys, fixture_csv):
    code = archsim.main(["validate", "--serving", str(fixture_csv), "--json"])
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert code == 0
    assert set(data) >= {"summary", "by_engine", "by_model", "skipped", "rows"}
    assert set(data["summary"]["ttft"]) == {"rows", "median_abs_error", "p90_abs_error"}
    assert {s["id"] for s in data["skipped"]} >= {"unknown-model", "adp"}
    code = archsim.main(["validate", "--serving", str(fixture_csv)])
    out, _ = capsys.readouterr()
    assert code == 0 and "per engine" in out and "Skipped runs (5)" in out


def test_the_reader_names_the_line_and_the_column(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,backend\nx,vllm\n")
    with pytest.raises(ValueError, match="header lacks column"):
        read_runs(bad)
    rows = [_row(id="a", model_path="m", isl="1k")]
    with bad.open("w", newline="") as f:
        w = csv.DictWriter(f, HEADER)
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(ValueError, match="line 2: column isl is '1k'"):
        read_runs(bad)
    with pytest.raises(ValueError, match="does not exist"):
        read_runs(tmp_path / "none.csv")


@pytest.mark.parametrize("name, weights, compute", [
    ("", DType.BF16, DType.BF16), ("fp8", DType.FP8, DType.FP8),
    ("fp8_block", DType.FP8_BLOCK, DType.FP8_BLOCK), ("nvfp4", DType.NVFP4, DType.BF16),
    ("mxfp4", DType.MXFP4, DType.BF16), ("fp4", DType.FP4, DType.BF16),
    ("int4", DType.INT4, DType.BF16)])
def test_measured_precisions_map_to_archsim_on_an_h100(name, weights, compute):
    h100 = frozenset({DType.BF16, DType.FP16, DType.FP8, DType.INT8})
    p = precision_of(name, h100)
    assert (p.weights, p.activations, p.kv_cache) == (weights, compute, DType.BF16)
    assert precision_of("nvfp4", h100 | {DType.NVFP4}).activations is DType.NVFP4


def test_the_shipped_h100_runs_read_and_every_aggregated_catalog_run_is_set_up():
    runs = read_runs(SHIPPED)
    assert len(runs) == 917
    peaks = frozenset({DType.BF16, DType.FP16, DType.FP8, DType.INT8})
    agg = [r for r in runs if r.mode == "agg"]
    reasons = {}
    for run in agg:
        setup = run_setup(run, resolve(run.hf_id), peaks)
        if hasattr(setup, "reason"):
            reasons.setdefault(setup.reason.split(":")[0], []).append(run.id)
    # Every aggregated H100 run is expressible (attention DP since issue 15).
    assert not reasons
    assert all(resolve(r.hf_id) for r in runs)
    # The concurrency each setup loops at is the one the source records, where it does
    # (attention DP taken over the TP ranks where the TensorRT-LLM gpt-oss rows leave the
    # attention_dp_size column blank).
    checked = 0
    for run in agg:
        recorded = recorded_concurrency(run)
        if recorded is not None:
            setup = run_setup(run, resolve(run.hf_id), peaks)
            assert setup.concurrency == recorded, run.id
            checked += 1
    assert checked == 802          # 8 of the 810 rows record none
    oss = [run_setup(r, resolve(r.hf_id), peaks) for r in agg if "trtllm_agg_4000x1000_c" in r.id
           and "gpt_oss" in r.id]
    assert len(oss) == 5 and all(s.decode.tp == 1 and s.decode.attn_dp in (2, 4) for s in oss)


@pytest.mark.parametrize("mode, hf_id, runs", [
    ("fp8", "MiniMaxAI/MiniMax-M2.5", "fp8_block"),        # published block-scaled fp8
    ("fp8", "deepseek-ai/DeepSeek-V3", "fp8_block"),
    ("fp8_block", "Qwen/Qwen3-235B-A22B-FP8", "fp8_block"),
    ("nvfp4", "openai/gpt-oss-120b", "mxfp4"),             # 4-bit: the checkpoint's MXFP4
    ("fp8", "openai/gpt-oss-120b", "fp8"),                 # another width: as measured
    ("int4", "openai/gpt-oss-120b", "int4"),
    ("bf16", "deepseek-ai/DeepSeek-V3", "bf16"),
    ("fp8", "meta-llama/Llama-3.1-70B", "fp8"),            # a bf16 checkpoint quantized online
])
def test_a_run_of_a_checkpoint_published_quantized_runs_its_format(mode, hf_id, runs):
    assert checkpoint_mode(mode, hf_id) == runs
