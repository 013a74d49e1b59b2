"""The on-disk trace cache: hits need no tracing, keys split what differs, damage is rebuilt."""

from __future__ import annotations

import pytest

import workloads.trace.session as trace_session
from hwspecs.dtypes import DType
from tests.workloads.tiny_models import write_tiny
from workloads import model_facts, trace_raw
from workloads.trace.cache import TraceCache, cache_dir, entry_key, software_key
from workloads.trace.reuse import _TEMPLATES


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ARCHSIM_CACHE_DIR", str(folder))
    _TEMPLATES.clear()
    yield folder
    _TEMPLATES.clear()


def forbid_tracing(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("traced instead of reading the cache")
    monkeypatch.setattr(trace_session, "session_for", refuse)


def test_cache_location_follows_the_environment(cache, monkeypatch):
    assert cache_dir() == cache
    monkeypatch.delenv("ARCHSIM_CACHE_DIR")
    assert str(cache_dir()).endswith(".cache/archsim")


def test_a_second_process_reads_the_trace_from_disk(cache, tmp_path, monkeypatch):
    path = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    first = trace_raw(path, "decode", 2, 1, 30)
    edge = trace_raw(path, "prefill", 1, 2)                     # no cell: cached by size
    assert list(cache.glob("*.json"))
    _TEMPLATES.clear()                                          # as a new process would be
    forbid_tracing(monkeypatch)
    assert trace_raw(path, "decode", 2, 1, 30).ops == first.ops
    assert trace_raw(path, "prefill", 1, 2).ops == edge.ops
    assert trace_raw(path, "decode", 3, 1, 50).context == 50   # re-shaped from the template


def test_damaged_entries_are_ignored_and_rebuilt(cache, tmp_path):
    path = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    want = trace_raw(path, "prefill", 1, 2)
    facts = model_facts(path)
    for entry in cache.glob("*.json"):
        entry.write_bytes(b"not an entry")
    _TEMPLATES.clear()
    assert trace_raw(path, "prefill", 1, 2).ops == want.ops
    assert model_facts(path) == facts
    assert all(entry.read_bytes() != b"not an entry" for entry in cache.glob("*.json"))


def test_keys_split_config_phase_dtype_and_versions(cache, tmp_path):
    assert entry_key("trace", "m", "h1", "bf16") != entry_key("trace", "m", "h2", "bf16")
    assert entry_key("trace", "m", "h1", "bf16") != entry_key("trace", "m", "h1", "fp32")
    assert "torch=" in software_key() and "transformers=" in software_key()
    small = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    wide = write_tiny(tmp_path / "..", "tiny-llama", num_hidden_layers=3, hidden_size=128,
                      intermediate_size=256)
    assert trace_raw(small, "prefill", 1, 2).ops != trace_raw(wide, "prefill", 1, 2).ops
    fp32 = trace_raw(small, "prefill", 1, 2, dtype=DType.FP32)
    assert {t.dtype for op in fp32.ops for t in op.inputs if t.role.value == "weight"} \
        == {DType.FP32}


def test_an_unwritable_cache_is_skipped(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = TraceCache(blocker / "below")                       # cannot mkdir under a file
    store.store("k", {"a": 1})
    assert store.load("k") is None


def test_a_planted_pickle_is_never_run(cache, tmp_path):
    """Issue 19: the cache held pickles, so a file planted at a key ran code when read."""
    import pickle

    path = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    want = trace_raw(path, "prefill", 1, 2)
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for entry in list(cache.glob("*")):
        entry.write_bytes(pickle.dumps(Payload()))              # at the name archsim reads
        entry.with_suffix(".pkl").write_bytes(pickle.dumps(Payload()))   # the old name
    _TEMPLATES.clear()
    assert trace_raw(path, "prefill", 1, 2).ops == want.ops
    assert not marker.exists()


def test_an_entry_copied_from_another_key_is_not_used(cache, tmp_path, monkeypatch):
    """Issue 19: an entry at another key's name was used as it is."""
    small = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    (tmp_path / "wide").mkdir()
    wide = write_tiny(tmp_path / "wide", "tiny-llama", num_hidden_layers=3, hidden_size=128,
                      intermediate_size=256)
    a = trace_raw(small, "prefill", 1, 2)
    before = set(cache.glob("*.json"))
    trace_raw(wide, "prefill", 1, 2)
    (wide_entry,) = [p for p in set(cache.glob("*.json")) - before
                     if b'"ReducedTrace"' in p.read_bytes()]
    (small_entry,) = [p for p in before if b'"ReducedTrace"' in p.read_bytes()]
    small_entry.write_bytes(wide_entry.read_bytes())            # the wide trace at small's key
    assert TraceCache(cache).load(small_entry.stem) is None     # refused: recorded key differs
    assert not small_entry.exists()                             # and deleted, to be rebuilt
    assert trace_raw(small, "prefill", 1, 2).ops == a.ops


def test_entries_are_plain_json_and_round_trip(cache, tmp_path):
    import json

    path = write_tiny(tmp_path, "tiny-llama", num_hidden_layers=3)
    want = trace_raw(path, "decode", 2, 1, 30)
    for entry in cache.glob("*.json"):
        data = json.loads(entry.read_text())
        assert data["key"] == entry.stem and data["format"].startswith("archsim-trace-json")
    _TEMPLATES.clear()
    assert trace_raw(path, "decode", 2, 1, 30) == want
