"""Getting a trace: from this process's memory, from the disk cache, from a template, or traced.

Light on purpose: a cache hit imports neither torch nor transformers. A size in a template's
cell (see `reshape`) is the template evaluated; the first time a cell is asked for, the
template is fitted from a few small traces and checked against the asked trace. Sizes without
a cell, or cells a template cannot fit, are traced as asked and cached by size.
"""

from __future__ import annotations

from hwspecs.dtypes import DType
from workloads.config import ModelConfig
from workloads.config_check import config_errors
from workloads.op import ModelFacts, Phase
from workloads.raw import RawTrace
from workloads.trace.cache import TraceCache, entry_key
from workloads.trace.layer_expand import ReducedTrace
from workloads.trace.reshape import (
    Cell,
    TraceTemplate,
    cell_of,
    check_point,
    fit_template,
    same_ops,
    sample_points,
    sizes,
    variables,
    windows_of,
)

_NO_TEMPLATE = "no-template"      # cached: this cell cannot be fitted; trace each size
_TEMPLATES: dict[str, TraceTemplate | str] = {}   # this process's templates by key


def get_trace(cfg: ModelConfig, phase: Phase, batch: int, seq: int, context: int,
              dtype: DType, use_cache: bool = True, reshape: bool = True) -> RawTrace:
    """The trace of one step; an error inside transformers is one sentence naming the config."""
    with config_errors(cfg.source):
        return _get_trace(cfg, phase, batch, seq, context, dtype, use_cache, reshape)


def _get_trace(cfg: ModelConfig, phase: Phase, batch: int, seq: int, context: int,
               dtype: DType, use_cache: bool, reshape: bool) -> RawTrace:
    if not use_cache:
        from workloads.trace.session import session_for

        return session_for(cfg, dtype).trace(phase, batch, seq, context)
    store = TraceCache()
    cell = cell_of(phase, batch, seq, context, windows_of(dict(cfg.data)))
    if cell is not None:
        key = entry_key("template", cfg.name, cfg.content_hash, dtype.value, cell.key)
        tpl = _template(store, key)
        if isinstance(tpl, TraceTemplate):
            x, y = variables(phase, batch, seq, context)
            return RawTrace(tpl.facts, phase, batch, seq, context, dtype, tpl.ops(x, y))
        if tpl is None and reshape:        # reshape=False: a template only if one exists
            trace, tpl = _fit(cfg, dtype, cell, variables(phase, batch, seq, context))
            _TEMPLATES[key] = tpl if tpl is not None else _NO_TEMPLATE
            store.store(key, _TEMPLATES[key])
            if trace is not None:
                return trace
    return _traced(store, cfg, phase, batch, seq, context, dtype)


def facts(cfg: ModelConfig, dtype: DType, use_cache: bool = True) -> ModelFacts:
    with config_errors(cfg.source):
        return _facts(cfg, dtype, use_cache)


def _facts(cfg: ModelConfig, dtype: DType, use_cache: bool) -> ModelFacts:
    store = TraceCache()
    key = entry_key("facts", cfg.name, cfg.content_hash, dtype.value)
    found = store.load(key) if use_cache else None
    if isinstance(found, ModelFacts):
        return found
    from workloads.trace.session import session_for

    found = session_for(cfg, dtype).facts
    if use_cache:
        store.store(key, found)
    return found


def _template(store: TraceCache, key: str) -> TraceTemplate | str | None:
    found = _TEMPLATES.get(key)
    if found is None:
        found = store.load(key)
        if isinstance(found, TraceTemplate) or found == _NO_TEMPLATE:
            _TEMPLATES[key] = found
        else:
            found = None
    return found


def _traced(store: TraceCache, cfg: ModelConfig, phase: Phase, batch: int, seq: int,
            context: int, dtype: DType) -> RawTrace:
    key = entry_key("trace", cfg.name, cfg.content_hash, dtype.value, phase.value, batch, seq,
                    context)
    found = store.load(key)
    if isinstance(found, ReducedTrace):
        return found.full()
    from workloads.trace.session import session_for

    session = session_for(cfg, dtype)
    ops, steps = session.record(phase, batch, seq, context)
    reduced = ReducedTrace(session.facts, phase, batch, seq, context, dtype, ops, steps)
    store.store(key, reduced)
    return reduced.full()


def _fit(cfg: ModelConfig, dtype: DType, cell: Cell,
         asked: tuple[int, int]) -> tuple[RawTrace | None, TraceTemplate | None]:
    """Fit a template for `cell` and check it against a real trace (the asked one if it can).

    Returns the asked trace when it was traced for the check, and the template or None.
    """
    from workloads.trace.session import session_for

    session = session_for(cfg, dtype)
    phase = cell.phase
    recorded: dict[tuple[int, int], tuple] = {}
    asked_trace = None
    for degree in (1, 2):
        points = sample_points(cell, degree)
        for pt in points:
            if pt not in recorded:
                recorded[pt] = session.record(phase, *sizes(phase, *pt))
        steps = recorded[points[0]][1]
        tpl = fit_template(session.facts, cell, dtype, degree,
                           [(pt, recorded[pt][0]) for pt in points], steps)
        if tpl is None:
            return asked_trace, None
        check = check_point(cell, asked, degree)
        real = session.trace(phase, *sizes(phase, *check))
        if check == asked:
            asked_trace = real
        if same_ops(tpl.ops(*check), real.ops):
            return asked_trace, tpl
    return asked_trace, None
