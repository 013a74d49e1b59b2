"""Time of one serving iteration (prefill chunks plus decodes) on one replica, memoized on
buckets so a request-level simulation prices thousands of iterations from a few dozen
cost-model evaluations.

    prefill_s(P): one forward over P prompt tokens, priced at powers of two and interpolated;
                  with `prompt_tokens` given, a bucket of P tokens is P / p sequences of p
                  tokens (p: the prompt length rounded up to a power of two), so attention is
                  priced per prompt, not over one sequence of P tokens.
    decode line:  a step of D sequences with a mean cache of L tokens takes a(D) + s(D) x L;
                  a(D), s(D) come from two cache lengths (a step's KV reads are linear in L),
                  priced at D = 1, 2, 4, ... and interpolated linearly in D.
    mixed:        prefill_s(P + D) + s(D) x L: the P + D tokens share one pass over the
                  weights, the decodes add their cache reads.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from hwspecs.dtypes import DType
from simulator.core.arrays import to_arrays
from simulator.inference.step import kv_split, step_times
from simulator.parallel.params import param_slots, stage_params_per_gpu
from simulator.parallel.plan import check_plan
from simulator.parallel.roles import roles_of
from simulator.parallel.sharding import ShardSpec, shard
from simulator.serving.replica import ReplicaSpec, kv_cache_bytes
from workloads import get_workload, model_facts


@functools.lru_cache(maxsize=4096)
def bucket_workload(model: str, phase: str, batch: int, seq: int, context: int):
    return get_workload(model, phase, batch=batch, seq=seq, context=context, dtype=DType.BF16)


def _pow2_at_least(n: int) -> int:
    return 1 << max(int(math.ceil(math.log2(max(n, 1)))), 0)


class IterationCost:
    """Memoized iteration times of one replica; `min_prefill_tokens` is the first bucket."""

    def __init__(self, spec: ReplicaSpec, max_context: int, min_prefill_tokens: int = 16,
                 prompt_tokens: int | None = None):
        self.spec = spec
        self._prompt = _pow2_at_least(prompt_tokens) if prompt_tokens else None
        self.facts = model_facts(spec.model)
        check_plan(spec.plan, self.facts, spec.system.num_devices, 1, training=False)
        self._profile = spec.options.profile_for(spec.system.device)
        self._first = _pow2_at_least(min_prefill_tokens)
        self._l_lo = 128
        self._l_hi = max(_pow2_at_least(max_context), 2 * self._l_lo)
        self.max_context = max_context
        self._prefill: dict[int, float] = {}
        self._decode: dict[int, tuple[float, float]] = {}
        self._lines: dict[int, tuple[float, float]] = {}
        self.evaluations = 0
        self.runs: dict = {}        # steady_state.simulate_requests: its runs on this replica

    def _step_s(self, phase: str, batch: int, seq: int, context: int) -> float:
        self.evaluations += 1
        w = bucket_workload(self.spec.model, phase, batch, seq, context)
        return float(step_times(w, self.spec.system, self.spec.plan, self.spec.options,
                                self._profile).time_s[0])

    def _prefill_at(self, tokens: int) -> float:
        if tokens not in self._prefill:
            batch = max(tokens // self._prompt, 1) if self._prompt else 1
            self._prefill[tokens] = self._step_s("prefill", batch, tokens // batch, 0)
        return self._prefill[tokens]

    def prefill_s(self, tokens: int) -> float:
        """One forward over `tokens` prompt tokens (as one sequence)."""
        if tokens <= self._first:
            # NB: below the first bucket the time is taken as flat (launch and weight bound).
            return self._prefill_at(self._first)
        lo = 1 << int(math.floor(math.log2(tokens)))
        if lo == tokens:
            return self._prefill_at(tokens)
        t0, t1 = self._prefill_at(lo), self._prefill_at(2 * lo)
        return t0 + (t1 - t0) * (tokens - lo) / lo

    def _line_at(self, batch: int) -> tuple[float, float]:
        if batch not in self._decode:
            lo = self._step_s("decode", batch, 1, self._l_lo)
            hi = self._step_s("decode", batch, 1, self._l_hi)
            slope = max((hi - lo) / (self._l_hi - self._l_lo), 0.0) / batch
            self._decode[batch] = (lo - slope * batch * self._l_lo, slope * batch)
        return self._decode[batch]

    def decode_line(self, batch: int) -> tuple[float, float]:
        """(a, s): a decode step of `batch` sequences with a mean cache of L takes a + s x L."""
        if batch in self._lines:
            return self._lines[batch]
        lo = 1 << int(math.floor(math.log2(batch)))
        if lo == batch:
            line = self._line_at(batch)
        else:
            (a0, s0), (a1, s1) = self._line_at(lo), self._line_at(2 * lo)
            f = (batch - lo) / lo
            line = (a0 + (a1 - a0) * f, s0 + (s1 - s0) * f)
        self._lines[batch] = line
        return line

    def decode_s(self, batch: int, mean_context: float) -> float:
        a, s = self.decode_line(batch)
        return a + s * mean_context

    def iteration_s(self, prefill_tokens: int, decodes: int, mean_context: float) -> float:
        if prefill_tokens == 0:
            return self.decode_s(decodes, mean_context) if decodes else 0.0
        if decodes == 0:
            return self.prefill_s(prefill_tokens)
        # NB: a mixed batch's attention over the decodes' caches is their KV reads alone.
        return self.prefill_s(prefill_tokens + decodes) + self.decode_line(decodes)[1] \
            * mean_context

    def memory(self, max_batched_tokens: int) -> tuple[float, float, float]:
        """(weights, activations, KV bytes per token) on one GPU of the replica."""
        spec, facts, p = self.spec, self.facts, self.spec.options.precision
        weights = float(stage_params_per_gpu(param_slots(facts), facts.layers, spec.plan)
                        .max()) * p.weight_bytes_per_element()
        w = bucket_workload(spec.model, "prefill", 1, _pow2_at_least(max_batched_tokens), 0)
        a = shard(to_arrays(w), roles_of(w, spec.options.tp_plan),
                  ShardSpec(tp=spec.plan.tp, ep=spec.plan.ep, attn_dp=spec.plan.attn_dp))
        # NB: activations are the largest prefill kernel's inputs and outputs, freed after.
        act = float((a.act_read_bytes + a.act_write_bytes).max(initial=0.0)) \
            * p.activations.bits / w.dtype.bits
        per_token = facts.kv_bytes_per_token * p.kv_cache.bits / DType.BF16.bits \
            / kv_split(facts, spec.plan)
        return weights, act, per_token

    def kv_capacity_tokens(self, max_batched_tokens: int) -> int:
        """Tokens the paged KV cache holds: memory left after weights and activations."""
        weights, act, per_token = self.memory(max_batched_tokens)
        spec = self.spec
        free = kv_cache_bytes(spec.system.device.mem_capacity_bytes, weights, act,
                              spec.memory_utilization, spec.memory_rule)
        if free <= 0 or per_token <= 0:
            return 0 if free <= 0 else int(np.iinfo(np.int32).max)
        return int(free // per_token)
