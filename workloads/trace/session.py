"""One model at one dtype, built once per process: its facts, and traces of any phase and size.

Imports torch and transformers (through `model_build`): only `workloads.trace.reuse` imports
this, when a trace is not in the cache.
"""

from __future__ import annotations

from hwspecs.dtypes import DType
from workloads.config import ModelConfig
from workloads.op import ModelFacts, Phase
from workloads.raw import RawOp, RawTrace
from workloads.trace.facts import model_facts_of
from workloads.trace.layer_expand import NotExpandable, Step, apply_expansion, expansion
from workloads.trace.layer_plan import LayerPlan, layer_signature, plan_layers
from workloads.trace.model_build import BuiltModel, build_meta
from workloads.trace.phases import PhaseRunner


class TraceSession:
    def __init__(self, cfg: ModelConfig, dtype: DType):
        self.cfg = cfg
        self.dtype = dtype
        self.built: BuiltModel = build_meta(cfg, dtype)
        self.facts: ModelFacts = model_facts_of(cfg.name, self.built, dtype)
        self.plan: LayerPlan = plan_layers([layer_signature(m) for m in self.built.stack])
        self.expanded: dict[Phase, bool] = {}   # per phase: did the reduced trace expand?
        self._runners: dict[tuple[int, ...], PhaseRunner] = {}

    def trace(self, phase: Phase, batch: int, seq: int, context: int,
              reduce: bool = True) -> RawTrace:
        """The full op list of one step (traced through a few layers where exact)."""
        ops, steps = self.record(phase, batch, seq, context, reduce)
        return RawTrace(self.facts, phase, batch, seq, context, self.dtype,
                        apply_expansion(ops, steps))

    def record(self, phase: Phase, batch: int, seq: int, context: int,
               reduce: bool = True) -> tuple[tuple[RawOp, ...], tuple[Step, ...]]:
        """The traced ops and how to build the full list from them (`layer_expand`)."""
        if phase is Phase.DECODE and not self.built.causal:
            raise ValueError(f"{self.cfg.name} is an encoder: it has no decode phase")
        if reduce and self.plan.reduced and self.expanded.get(phase, True):
            ops = self._runner(self.plan.traced).run(phase, batch, seq, context)
            try:
                steps = expansion(ops, self.plan, self.built.stack_path)
                self.expanded[phase] = True
                return ops, steps
            except NotExpandable:
                self.expanded[phase] = False
        every = tuple(range(self.plan.layers))
        full = LayerPlan(self.plan.layers, every, every)
        ops = self._runner(every).run(phase, batch, seq, context)
        return ops, expansion(ops, full, self.built.stack_path)

    def _runner(self, layers: tuple[int, ...]) -> PhaseRunner:
        found = self._runners.get(layers)
        if found is None:
            found = self._runners[layers] = PhaseRunner(self.built, list(layers))
        return found


_SESSIONS: dict[tuple[str, str, DType], TraceSession] = {}
_KEEP = 4  # sessions kept per process (a meta model is small; the oldest goes first)


def session_for(cfg: ModelConfig, dtype: DType) -> TraceSession:
    key = (cfg.name, cfg.content_hash, dtype)
    session = _SESSIONS.pop(key, None) or TraceSession(cfg, dtype)
    _SESSIONS[key] = session
    while len(_SESSIONS) > _KEEP:
        _SESSIONS.pop(next(iter(_SESSIONS)))
    return session
