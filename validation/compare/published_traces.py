"""The traced workloads of the published cases, as few traces as give them exactly.

Tracing is what a cold `validate --published` spends its time on (about a second a training
trace on two cores), so:
- a model asked at a few sizes of a phase is traced at each (`reshape=False`); a template of
  its cell (`workloads.trace.reshape`, 3 traces to fit at batch 1, 5 above) only where it is
  asked at more sizes than that;
- the MPT rows are GPT-2-shaped models whose learned position table is as long as the row's
  sequence (`n_positions = seq`), so each (size, sequence) is another config. Every integer of
  their trace is still a polynomial in the sequence length, table included: one template per
  size (`position_family`), fitted from small configs and checked against the real trace of
  the first asked size, gives every sequence of that size. Model facts (parameter counts) come
  from each real config.
"""

from __future__ import annotations

import json
from typing import Any

from hwspecs.dtypes import DType

_TIED = "n_positions"        # the config field a family ties to the sequence length


class Workloads:
    """Traced workloads and prepared training contexts, shared across the cases of a run."""

    def __init__(self, cases=()) -> None:
        self.cache: dict[tuple, Any] = {}
        sizes: dict[tuple, set] = {}
        self.families: dict[str, set[int]] = {}
        for case in cases:
            for key in steps_of(case):
                sizes.setdefault(key[:2] + (key[2] == 1,), set()).add(key)
            family = position_family(case)
            if family is not None:
                self.families.setdefault(family, set()).add(case.seq)
        # Fitting a template traces 3 sizes at batch 1 (y samples and a check), 5 above.
        self.several = {k for k, v in sizes.items() if len(v) > (3 if k[2] else 5)}
        self.templates: dict[str, Any] = {}

    def get(self, ref: str, phase: str, batch: int, seq: int, context: int = 0,
            disabled: tuple[str, ...] = (), family: str | None = None):
        from workloads import get_workload

        key = (ref, phase, batch, seq, context, disabled)
        if key not in self.cache:
            if family is not None and len(self.families.get(family, ())) > 2:
                self.cache[key] = self._from_family(family, ref, seq, disabled)
            else:
                reshape = (ref, phase, batch == 1) in self.several
                self.cache[key] = get_workload(ref, phase, batch=batch, seq=seq,
                                               context=context, dtype=DType.BF16,
                                               disabled_passes=disabled, reshape=reshape)
        return self.cache[key]

    def _from_family(self, family: str, ref: str, seq: int, disabled: tuple[str, ...]):
        from workloads import get_workload, load_config
        from workloads.lower.build import build_workload
        from workloads.lower.fuse import check_passes
        from workloads.op import Phase
        from workloads.raw import RawTrace
        from workloads.trace.reshape import TraceTemplate
        from workloads.trace.reuse import facts

        cfg = load_config(ref)
        tpl = self.templates.get(family)
        if tpl is None:
            tpl, raw = _family_template(family, cfg, seq)
            self.templates[family] = tpl
        else:
            raw = None
        if raw is None:
            if not isinstance(tpl, TraceTemplate):     # the family did not fit: trace it
                return get_workload(ref, "train", 1, seq, dtype=DType.BF16,
                                    disabled_passes=disabled, reshape=False)
            raw = RawTrace(facts(cfg, DType.BF16), Phase.TRAIN, 1, seq, 0, DType.BF16,
                           tpl.ops(1, seq))
        return build_workload(raw, check_passes(disabled))


def steps_of(case) -> list[tuple]:
    """(model, phase, batch, seq, context) of every step a case prices."""
    from simulator.inference.request import decode_context
    from validation.compare.published_cases import TrainCase

    ref = case.model.ref()
    if isinstance(case, TrainCase):
        return [(ref, "train", 1, case.seq, 0)]
    return [(ref, "prefill", case.batch, case.input_len, 0),
            (ref, "decode", case.batch, 1, decode_context(case.input_len, case.output_len))]


def position_family(case) -> str | None:
    """The family of a training case whose learned position table is its sequence length:
    its config without that field (JSON), or None."""
    from validation.compare.published_cases import TrainCase

    config = case.model.config
    if not isinstance(case, TrainCase) or not config or config.get(_TIED) != case.seq:
        return None
    return json.dumps({k: v for k, v in config.items() if k != _TIED}, sort_keys=True)


def _family_template(family: str, cfg, seq: int):
    """(template or None, the real trace at `seq` if it was traced for the check).

    Kept in the trace cache under the family's own key, so a warm run fits nothing."""
    import hashlib

    from workloads.config import ModelConfig
    from workloads.op import Phase
    from workloads.trace.cache import TraceCache, entry_key
    from workloads.trace.reshape import (
        TraceTemplate,
        cell_of,
        check_point,
        fit_template,
        same_ops,
        sample_points,
    )

    cell = cell_of(Phase.TRAIN, 1, seq, 0, ())
    digest = hashlib.sha256(family.encode()).hexdigest()[:16]
    key = entry_key("position-family", digest, DType.BF16.value, cell.key if cell else "none")
    store = TraceCache()
    found = store.load(key)
    if isinstance(found, TraceTemplate) or found == "no-template":
        return found, None
    if cell is None:
        return "no-template", None
    from workloads.trace.session import session_for  # torch: only to fit

    base = dict(cfg.data)

    def session(y: int):
        data = {**base, _TIED: y}
        return session_for(ModelConfig(cfg.name, cfg.source, data), DType.BF16)

    recorded: dict[tuple[int, int], tuple] = {}
    asked = (1, seq)
    for degree in (1, 2):
        points = sample_points(cell, degree)
        for pt in points:
            if pt not in recorded:
                recorded[pt] = session(pt[1]).record(Phase.TRAIN, 1, pt[1], 0)
        first = session(points[0][1])
        tpl = fit_template(first.facts, cell, DType.BF16, degree,
                           [(pt, recorded[pt][0]) for pt in points], recorded[points[0]][1])
        if tpl is None:
            break
        check = check_point(cell, asked, degree)
        real = session(check[1]).trace(Phase.TRAIN, 1, check[1], 0)
        if same_ops(tpl.ops(*check), real.ops):
            store.store(key, tpl)
            return tpl, (real if check == asked else None)
    store.store(key, "no-template")
    return "no-template", None
