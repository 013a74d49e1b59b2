"""Engine presets: each value sourced, resolved per GPU, overridable; and the scheduling modes
they choose (mixed or prefill-only iterations, whole or chunked prompts)."""

from __future__ import annotations

import numpy as np
import pytest

from hwspecs.dtypes import DType
from hwspecs.registry import load_system
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.parallel.plan import Plan
from simulator.serving.engines import SERVING_ENGINES, engine_settings, replica_setup
from simulator.serving.replica import kv_cache_bytes
from simulator.serving.scheduler import Replica, RequestState, SchedulerConfig

H100 = load_system("h100-sxm").device
SETTINGS = ("max_seqs", "max_batched_tokens", "chunked_prefill", "chunk_size", "mixed",
            "block_size", "memory_share", "cuda_graph_max_batch", "host_overhead_s",
            "kv_cache_dtype", "admit_reserve")


@pytest.mark.parametrize("engine", SERVING_ENGINES)
def test_every_preset_value_has_a_source_and_the_version_is_named(engine):
    s = engine_settings(engine, H100)
    assert any(ch.isdigit() for ch in s.version)
    for key in SETTINGS:
        assert len(s.sources[key]) > 10, key
    assert len(s.table()) == len(SETTINGS) and all(row[2] for row in s.table())


def test_h100_defaults_are_the_engines_own():
    v, g, t = (engine_settings(e, H100, gpus=1) for e in ("vllm", "sglang", "trtllm"))
    assert (v.scheduler.max_seqs, v.scheduler.max_batched_tokens, v.scheduler.block_size) \
        == (1024, 8192, 16)
    assert v.scheduler.chunked_prefill and v.scheduler.mixes and v.memory_rule == "total"
    assert (g.scheduler.block_size, g.scheduler.mixes, g.memory_rule) == (1, False, "static")
    assert not t.scheduler.chunked_prefill and t.scheduler.mixes
    assert (t.scheduler.block_size, t.memory_rule, t.memory_share) == (32, "free", 0.9)
    # SGLang reserves (9.5 + tp x pp / 2) GiB of an 80 GB GPU outside its static share.
    gib = 1024 ** 3
    assert g.memory_share == pytest.approx(1 - 10 * gib / 80e9, abs=1e-3)
    assert engine_settings("sglang", H100, gpus=8).memory_share == pytest.approx(
        1 - 13.5 * gib / 80e9, abs=1e-3)


def test_vllm_picks_smaller_budgets_on_an_a100():
    a100 = load_system("a100-sxm-80gb").device
    s = engine_settings("vllm", a100).scheduler
    assert (s.max_seqs, s.max_batched_tokens) == (256, 2048)


def test_any_value_is_overridden_by_its_own_setting_and_says_so():
    s = engine_settings("trtllm", H100).with_overrides(max_seqs=64, chunked_prefill=True,
                                                       memory_share=0.5, mixed=None)
    assert s.scheduler.max_seqs == 64 and s.scheduler.chunked_prefill
    assert s.memory_share == 0.5 and s.scheduler.mixes       # None left the preset's
    assert s.sources["max_seqs"] == s.sources["memory_share"] == "set by the user"
    with pytest.raises(ValueError, match="unknown engine setting"):
        s.with_overrides(max_seq=1)
    with pytest.raises(ValueError, match="no serving preset"):
        engine_settings("torch", H100)


def test_memory_rules_size_the_kv_cache_as_each_engine_does():
    m, w, a = 80e9, 16e9, 2e9
    assert kv_cache_bytes(m, w, a, 0.9, "total") == pytest.approx(0.9 * m - w - a)
    assert kv_cache_bytes(m, w, a, 0.9, "static") == pytest.approx(0.9 * m - w)
    assert kv_cache_bytes(m, w, a, 0.9, "free") == pytest.approx(0.9 * (m - w - a))
    assert kv_cache_bytes(m, 90e9, a, 0.9, "free") < 0


def test_replica_setup_passes_the_engine_and_keeps_the_kv_cache_in_bf16():
    system = load_system("h100-sxm")
    options = Options(precision=Precision.parse("fp8"), engine="vllm")
    spec, config, settings = replica_setup("llama-3.1-8b", system, Plan(), options)
    assert spec.options.engine == "vllm" and settings.engine == "vllm"
    assert spec.options.precision.kv_cache is DType.BF16
    assert spec.options.precision.weights is DType.FP8
    assert (spec.memory_rule, spec.memory_utilization) == ("total", 0.9)
    assert config == settings.scheduler
    fp8_kv = Options(precision=Precision.parse("fp8", kv="fp8"), engine="vllm")
    spec, _, _ = replica_setup("llama-3.1-8b", system, Plan(), fp8_kv, kv_auto=False)
    assert spec.options.precision.kv_cache is DType.FP8          # --kv-dtype fp8 asked
    spec, config, settings = replica_setup("llama-3.1-8b", system, Plan(),
                                           Options(), {"max_seqs": 8})
    assert settings is None and config == SchedulerConfig(max_seqs=8)


class _Recorder:
    """A stand-in iteration cost: every iteration takes 1 ms; it records what ran."""

    def __init__(self):
        self.calls = []

    def iteration_s(self, tokens, decodes, ctx):
        self.calls.append((tokens, decodes))
        return 1e-3

    def decode_line(self, batch):
        return 1e-3, 0.0


def _iterations(config, prompts=(300, 300, 300), out=20, arrivals=(0.0, 0.005, 0.012)):
    n = len(prompts)
    state = RequestState(np.array(arrivals), np.array(prompts), np.full(n, out))
    cost = _Recorder()
    rep = Replica(0, cost, config, 100_000, state)
    for r, t in enumerate(arrivals):
        rep.advance_until(t)
        rep.add(r, t)
    rep.advance_until(np.inf)
    assert np.isfinite(state.finish_s).all()
    return cost.calls


def test_unmixed_iterations_never_run_prompts_beside_decodes():
    calls = _iterations(SchedulerConfig(max_batched_tokens=256, mixed=False, block_size=1))
    assert not any(tokens and decodes for tokens, decodes in calls)
    assert max(t for t, _ in calls) <= 256


def test_mixed_whole_prompts_run_beside_decodes_unchunked():
    calls = _iterations(SchedulerConfig(max_batched_tokens=1024, chunked_prefill=False,
                                        mixed=True, block_size=32))
    assert any(tokens and decodes for tokens, decodes in calls)
    assert all(t % 300 == 0 for t, _ in calls)           # whole prompts only


def test_a_chunk_size_caps_one_prompts_tokens_per_iteration():
    calls = _iterations(SchedulerConfig(max_batched_tokens=1024, chunk_size=128),
                        prompts=(300,), arrivals=(0.0,))
    assert [t for t, _ in calls if t] == [128, 128, 44]


def test_host_overhead_is_added_to_every_iteration():
    cfg = SchedulerConfig(host_overhead_s=1e-3)
    state = RequestState(np.zeros(1), np.array([100]), np.array([10]))
    rep = Replica(0, _Recorder(), cfg, 10_000, state)
    rep.add(0, 0.0)
    rep.advance_until(np.inf)
    assert state.finish_s[0] == pytest.approx(10 * 2e-3)


@pytest.mark.parametrize("reserve", [0.0, 0.7, 1.0])
def test_a_full_reservation_never_preempts_and_none_does_under_a_tight_cache(reserve):
    # 12 requests of 64 + 200 tokens on a cache of 1,024 tokens: all of them at once would
    # need 3,168; whole-output reservation (TensorRT-LLM's GUARANTEED_NO_EVICT) admits only
    # what fits to the end, none (vLLM) admits what fits now and preempts later.
    n = 12
    state = RequestState(np.zeros(n), np.full(n, 64), np.full(n, 200))
    rep = Replica(0, _Recorder(), SchedulerConfig(block_size=16, admit_reserve=reserve),
                  1024, state)
    for r in range(n):
        rep.add(r, 0.0)
    rep.advance_until(np.inf)
    assert np.isfinite(state.finish_s).all() and rep.pending == 0
    preempted = int(state.preemptions.sum())
    if reserve == 1.0:
        assert preempted == 0
    if reserve == 0.0:
        assert preempted > 0
