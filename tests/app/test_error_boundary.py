"""Issue 19: one error boundary in each face. Every kind of error thrown at the CLI's `main` and
at a page of the app becomes one sentence (no traceback): user errors exit 2 on the CLI, a bug
in archsim exits 1; errors from inside transformers are named after the config they came from.
"""

from __future__ import annotations

import json

import pytest
from huggingface_hub.errors import StrictDataclassFieldValidationError

import archsim
import archsim_cli.simulate
import workloads.trace.session as trace_session
from app_pages import state
from hwspecs.errors import ConfigError, InputError, SpecError
from simulator import PlanError
from workloads.trace.reuse import _TEMPLATES


def _strict_error() -> Exception:
    try:
        from transformers import LlamaConfig

        LlamaConfig(hidden_size="4096")
    except Exception as exc:  # noqa: BLE001 - whatever huggingface_hub raises
        return exc
    raise AssertionError("transformers accepted a string hidden_size")


# (id, the error, a word of the sentence shown, is it the user's error)
ERRORS = [
    ("spec", SpecError("my.yaml", "memory.bw_TBps", "is missing"), "my.yaml", True),
    ("config", ConfigError("cfg.json: field 'hidden_size' is missing"), "cfg.json", True),
    ("plan", PlanError("heads", "tp=3 does not divide the 8 attention heads"), "tp=3", True),
    ("input", InputError("--gpus 8 does not match tp x dp = 6"), "--gpus 8", True),
    ("value", ValueError("unknown dtype 'fp12'"), "fp12", True),
    ("lookup", LookupError("unknown device 'h900'"), "h900", True),
    ("os", FileNotFoundError(2, "No such file or directory", "grid.yaml"), "grid.yaml", True),
    ("recursion", RecursionError("maximum recursion depth exceeded"), "nests too deeply", True),
    ("memory", MemoryError(), "out of memory", True),
    ("overflow", OverflowError("cannot convert float infinity to integer"), "too large", True),
    ("strict", _strict_error(), "hidden_size", False),
    ("bug", RuntimeError("boom\nsecond line"), "internal error (RuntimeError: boom)", False),
    ("key", KeyError("value"), "internal error (KeyError: value)", False),
]


def _raiser(exc: BaseException):
    def run(*_args, **_kwargs):
        raise exc
    return run


@pytest.mark.parametrize("exc, words, users", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_the_cli_turns_every_error_into_one_line(capsys, monkeypatch, exc, words, users):
    monkeypatch.setattr(archsim_cli.simulate, "_simulate", _raiser(exc))
    code = archsim.main(["simulate"])
    out, err = capsys.readouterr()
    assert code == (2 if users else 1) and not out
    assert err.count("\n") == 1 and err.startswith("archsim: error: ") and words in err
    assert "Traceback" not in err


@pytest.mark.parametrize("exc, words, users", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_the_app_turns_every_error_into_one_line(make_app, monkeypatch, exc, words, users):
    monkeypatch.setattr(state, "device_choices", _raiser(exc))   # outside any inner boundary
    at = make_app(run=False)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and words in shown[0] and "\n" not in shown[0]


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSIM_CACHE_DIR", str(tmp_path / "cache"))
    _TEMPLATES.clear()
    state.workload.clear()
    yield
    _TEMPLATES.clear()
    state.workload.clear()


TRACING = [("strict", _strict_error()), ("type", TypeError("unsupported operand")),
           ("value", ValueError("The hidden size is not a multiple of the heads"))]


@pytest.mark.parametrize("exc", [e for _, e in TRACING], ids=[i for i, _ in TRACING])
def test_errors_inside_tracing_name_the_config_in_both_faces(fresh_cache, monkeypatch, capsys,
                                                             make_app, small_model, exc):
    monkeypatch.setattr(trace_session, "session_for", _raiser(exc))
    code = archsim.main(["trace", "--model", small_model, "--seq", "64"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and small_model in err
    assert isinstance(exc, StrictDataclassFieldValidationError) <= ("hidden_size" in err)
    at = make_app(run=False)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(small_model in e.value for e in at.error)


def test_the_debug_switch_shows_the_traceback_of_a_bug(monkeypatch):
    monkeypatch.setattr(archsim_cli.simulate, "_simulate", _raiser(RuntimeError("boom")))
    monkeypatch.setenv("ARCHSIM_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        archsim.main(["simulate"])


def test_an_uploaded_config_with_a_bad_field_is_one_line(make_app, tmp_path):
    from tests.app.conftest import SMALL_CONFIG

    bad = tmp_path / "bad-llama" / "config.json"
    bad.parent.mkdir()
    bad.write_text(json.dumps({**SMALL_CONFIG, "num_key_value_heads": 3}))
    at = make_app(model_path=str(bad))
    assert [e.value for e in at.error] and "does not divide" in at.error[0].value
