"""Predictions vs published multi-GPU results (validation/published/), with honest tolerances.

The tolerances are set from what the model gets with the shipped specs and default efficiency
profiles (nothing fitted to these rows), with a little headroom, so a change that makes it
worse fails. To keep the suite fast (each model is a trace) the test runs every other row of
Megatron-LM's Table 1 (1.7B to 530B) and gpt-fast's Llama-2-7B bf16 rows; `archsim validate
--published` runs them all. Errors when the tolerances were set (predicted / published - 1):
- Megatron-LM 2021 Table 1: these 5 rows median |error| 16.7%, worst +41.7% (all 10: median
  15.5%, worst +41.7%); all over-predictions, largest for the smallest models (+41.7% at
  1.7B), whose runs spent more time in 2021's unfused attention than our FlashAttention
  stand-in does.
- gpt-fast batch-1 decode, Llama-2-7B bf16 on A100, TP 1-8: median 7.0%, worst +12.7% (all 7
  bf16 rows with 70B: median 7.6%, worst +12.7%); the benchmark's GPUs were capped at 330 W
  and we price the 400 W part.
"""

from __future__ import annotations

import pytest

from validation.compare.published import compare_published
from validation.compare.published_cases import (
    GPTFAST,
    MEGATRON_T1,
    MEGATRON_T2,
    MPT,
    TRTLLM,
    inference_cases,
    megatron_flops_per_step,
    training_cases,
)

# The one place these tolerances live: (median |error|, worst |error|) per checked set.
# gpt-fast bf16 (batch-1 decode on A100): priced with the A100 profile fitted on TensorRT-LLM's
# measured kernels, 10-12% slower than gpt-fast's compiled, CUDA-graphed decode (it was
# within 10% with the unfitted defaults, which were measured on nothing).
TOLERANCES = {MEGATRON_T1: (0.20, 0.45), "gpt-fast bf16": (0.15, 0.15)}
MEGATRON_ROWS = tuple(f"megatron2021_t1_{i}" for i in (1, 3, 5, 7, 9))
GPTFAST_ROWS = tuple(f"gptfast_llama-2-7b_bf16_tp{tp}" for tp in (1, 2, 4, 8))


def test_every_published_row_is_a_case_or_skipped_with_a_reason():
    train, skipped_t = training_cases()
    infer, skipped_i = inference_cases()
    by_source = {}
    for case in (*train, *infer):
        by_source[case.source] = by_source.get(case.source, 0) + 1
    assert by_source[MEGATRON_T1] == 10 and by_source[MEGATRON_T2] == 12
    assert by_source[MPT] == 78 and by_source[TRTLLM] == 29 and by_source[GPTFAST] == 13
    reasons = {s.case_id: s.reason for s in (*skipped_t, *skipped_i)}
    assert reasons["megatron2021_1T_headline"].startswith("an aggregate")
    assert "MI250X" in reasons["gptfast_mi250x_llama2_7b_bf16"]
    t1 = {c.case_id: c for c in train}["megatron2021_t1_10"]
    assert (t1.plan.tp, t1.plan.pp, t1.plan.dp, t1.plan.gpus) == (8, 64, 6, 3072)
    assert t1.system == "dgx-a100:nodes=384"


def test_megatron_flop_formula():
    # GPT-3 175B, batch 1536, seq 2048: 96 B s l h^2 (1 + s / 6h + V / 16 l h)
    # = 4.37750e18 x (1 + 0.0277778 + 0.0027127) = 4.51097e18 FLOPs per iteration
    # (about 4/3 of 6 N tokens = 6 x 175e9 x 1536 x 2048 = 3.3e18: the recomputed forward).
    flops = megatron_flops_per_step(1536, 2048, 96, 12288, 51200)
    assert flops == pytest.approx(4.51097e18, rel=1e-5)


@pytest.fixture(scope="module")
def results():
    return compare_published(case_ids=MEGATRON_ROWS + GPTFAST_ROWS)


def _check(rows, name):
    errors = sorted(abs(r.error) for r in rows)
    median = errors[len(errors) // 2] if len(errors) % 2 else \
        (errors[len(errors) // 2 - 1] + errors[len(errors) // 2]) / 2
    tol_median, tol_worst = TOLERANCES[name]
    assert median <= tol_median, f"{name}: median |error| {median:.1%} > {tol_median:.0%}"
    assert errors[-1] <= tol_worst, f"{name}: worst |error| {errors[-1]:.1%} > {tol_worst:.0%}"


def test_megatron_table_1_tflops_per_gpu(results):
    rows = [r for r in results.results if r.source == MEGATRON_T1]
    assert len(rows) == 5 and all(r.feasible for r in rows)
    _check(rows, MEGATRON_T1)
    summary = {s.source: s for s in results.summary()}[MEGATRON_T1]
    assert summary.cases == 5 and summary.worst_case == "megatron2021_t1_1"


def test_gpt_fast_batch_1_decode(results):
    rows = [r for r in results.results if r.source == GPTFAST]
    assert len(rows) == 4 and all(r.feasible for r in rows)
    _check(rows, "gpt-fast bf16")
    # More TP ranks decode faster, as measured (105 -> 328 tokens/s from 1 to 8 GPUs).
    by_tp = sorted(rows, key=lambda r: r.published)
    assert [r.predicted for r in by_tp] == sorted(r.predicted for r in by_tp)


def test_a_kv_cache_format_the_source_names_is_the_one_priced():
    """TensorRT-LLM's H100 FP8 rows ran an FP8 KV cache ("fp8 (fp8 KV cache)"); since the KV
    cache stays bf16 under fp8 compute unless asked, the case must ask (it was lost once)."""
    from simulator import Precision
    from validation.compare.published_cases import inference_cases, read_rows

    named = {r["case_id"] for r in read_rows("inference_throughput.csv")
             if "fp8 kv cache" in r["precision"].lower()}
    cases = {c.case_id: c for c in inference_cases()[0]}
    assert named and named <= set(cases)
    for cid in named:
        assert Precision.parse(**cases[cid].precision).kv_cache.value == "fp8", cid
