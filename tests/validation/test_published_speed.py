"""Issue 19: `validate --published` in seconds, not minutes (`benchmarks/bench_published.py`):
a model asked at one size is traced once, the MPT rows of one size share one template, the
cases run on every CPU, and the tables fit a 100-column terminal. None of it changes a number.
"""

from __future__ import annotations

import collections

import pytest

import archsim
import validation.compare.published as published
import workloads.trace.session as trace_session
from validation.compare import published_traces
from validation.compare.published import CaseResult, PublishedComparison, compare_published
from validation.compare.published_cases import GPTFAST, MEGATRON_T1, MPT, training_cases


def _records(monkeypatch) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    record = trace_session.TraceSession.record

    def counted(self, phase, *args, **kwargs):
        counts[(self.cfg.name, phase.value)] += 1
        return record(self, phase, *args, **kwargs)

    monkeypatch.setattr(trace_session.TraceSession, "record", counted)
    return counts


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    from workloads.trace.reuse import _TEMPLATES

    monkeypatch.setenv("ARCHSIM_CACHE_DIR", str(tmp_path / "cache"))
    _TEMPLATES.clear()
    trace_session._SESSIONS.clear()
    yield
    _TEMPLATES.clear()


def test_a_model_asked_at_one_size_is_traced_once(fresh_cache, monkeypatch):
    counts = _records(monkeypatch)
    compare_published(case_ids=["megatron2021_t1_1"], workers=1)
    assert list(counts.values()) == [1]          # a template would have cost three


def test_the_mpt_rows_of_one_size_share_one_template_and_its_numbers(fresh_cache, monkeypatch):
    train, _ = training_cases()
    ids = [c.case_id for c in train if c.source == MPT and c.model.name.startswith("mpt-125m-")]
    seqs = {c.seq for c in train if c.case_id in ids}
    assert len({published_traces.position_family(c) for c in train if c.case_id in ids}) == 1
    counts = _records(monkeypatch)
    shared = compare_published(case_ids=ids, workers=1)
    assert sum(counts.values()) < len(seqs) == 7     # one trace per sequence without it
    monkeypatch.setattr(published_traces, "position_family", lambda case: None)
    monkeypatch.setattr(published, "position_family", lambda case: None)
    alone = compare_published(case_ids=ids, workers=1)
    assert [r.predicted for r in shared.results] == [r.predicted for r in alone.results]


def test_two_processes_give_the_numbers_of_one(fresh_cache):
    ids = ["megatron2021_t1_1", "gptfast_llama-2-7b_bf16_tp1", "gptfast_llama-2-7b_bf16_tp2"]
    one = compare_published(case_ids=ids, workers=1)
    two = compare_published(case_ids=ids, workers=2)
    assert [r.case_id for r in two.results] == ids
    assert [r.predicted for r in one.results] == [r.predicted for r in two.results]


def test_the_tables_fit_a_100_column_terminal(monkeypatch, capsys):
    rows = tuple(CaseResult(f"mpt_125m_32768_8gpu_bf16_a10040gb_noac_gb{i:03d}", source,
                            "a long configuration " * 8, metric, 1234.5678, 1000.0, True,
                            "a long note " * 10)
                 for i, (source, metric) in enumerate([(MEGATRON_T1, "tflops_per_gpu"),
                                                       (MPT, "tokens_per_s_per_gpu"),
                                                       (GPTFAST, "tokens_per_s")] * 3))
    monkeypatch.setattr(published, "compare_published",
                        lambda **_kw: PublishedComparison(rows, ()))
    assert archsim.main(["validate", "--published"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "mpt_125m_32768_8gpu_bf16_a10040gb_noac_gb001" in out      # ids not cut off
    assert "23.5" in out


def test_a_group_runs_with_the_cycle_collector_paused_and_restores_it(monkeypatch):
    import gc

    seen = []
    monkeypatch.setattr(published, "_cases_of_group", lambda cases: seen.append(gc.isenabled())
                        or [])
    assert gc.isenabled()
    assert published._run_group([]) == []
    assert seen == [False] and gc.isenabled()

    def fails(cases):
        raise RuntimeError("boom")

    monkeypatch.setattr(published, "_cases_of_group", fails)
    with pytest.raises(RuntimeError):
        published._run_group([])
    assert gc.isenabled()
    gc.disable()            # a caller that had it off keeps it off
    try:
        monkeypatch.setattr(published, "_cases_of_group", lambda cases: [])
        published._run_group([])
        assert not gc.isenabled()
    finally:
        gc.enable()
