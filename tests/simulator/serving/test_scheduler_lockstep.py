"""The scheduler's lockstep bookkeeping of the decoding set, and its jumps over stretches of
decode-only iterations, against brute force: the per-request arrays recomputed after every
step, and the same requests run one iteration at a time."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.serving.scheduler import Replica, RequestState, SchedulerConfig
from tests.simulator.serving import serving_fixtures

tiny_cost = serving_fixtures.tiny_cost
tiny_model = serving_fixtures.tiny_model
tiny_spec = serving_fixtures.tiny_spec


class CheckedReplica(Replica):
    """Checks, after every iteration, the lockstep sums against the sequences one by one."""

    steps = 0

    def run_once(self, t: float = np.inf) -> None:
        super().run_once(t)
        self.steps += 1
        s, bs, lock = self.s, self.cfg.block_size, self._lock
        assert set(self._joined) == set(self.decoding)
        cached = {r: b + lock for r, (b, _) in self._joined.items()}
        gen = {r: g + lock for r, (_, g) in self._joined.items()}
        blocks = sum(-(-c // bs) for c in cached.values()) \
            + sum(int(s.blocks[r]) for r in self.prefilling)
        assert self.free == self.total_blocks - blocks
        assert self._blocks_at(lock) == sum(-(-c // bs) for c in cached.values())
        assert self._cache_sum + len(cached) * lock == sum(cached.values())
        assert self._residues[(bs - 1 - lock) % bs] == sum(c % bs == 0 for c in cached.values())
        owed = [int(s.out[r]) - gen[r] for r in self.decoding]
        if owed:
            assert self._fewest_owed() == min(owed) >= 0
        # Prefilling sequences owe their whole output (one token on a prefill replica).
        assert self.pending == sum(owed) + sum(self._owed(r) for r in self.prefilling)


class StepReplica(CheckedReplica):
    """Never jumps: every decode-only iteration is its own step."""

    def _jump(self, t: float) -> bool:
        return False


def _run(cls, cost, cfg, arrival, prompt, out, kv_tokens):
    state = RequestState(np.asarray(arrival, float), np.asarray(prompt, np.int64),
                         np.asarray(out, np.int64))
    rep = cls(0, cost, cfg, kv_tokens, state)
    for r, t in enumerate(arrival):
        rep.advance_until(t)
        rep.add(r, t)
    rep.advance_until(np.inf)
    return rep, state


CONFIGS = {
    "mixed": SchedulerConfig(max_seqs=16, max_batched_tokens=256, block_size=8),
    "unmixed": SchedulerConfig(max_seqs=16, max_batched_tokens=256, block_size=8,
                               chunked_prefill=False),
    "reserve": SchedulerConfig(max_seqs=16, max_batched_tokens=256, block_size=16,
                               admit_reserve=1.0, host_overhead_s=1e-4),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("kv_tokens", [800, 100_000])       # preempting, and not
def test_lockstep_sums_match_the_sequences_and_jumps_match_single_steps(
        tiny_cost, name, kv_tokens):
    rng = np.random.default_rng(7)
    n = 60
    arrival = np.sort(rng.uniform(0, 0.05, n))
    arrival[:12] = 0.0                      # a burst: a long decode-only stretch after it
    prompt = rng.integers(1, 200, n)
    out = rng.integers(1, 120, n)
    cfg = CONFIGS[name]
    jumped, a = _run(CheckedReplica, tiny_cost, cfg, arrival, prompt, out, kv_tokens)
    stepped, b = _run(StepReplica, tiny_cost, cfg, arrival, prompt, out, kv_tokens)
    assert jumped.steps < stepped.steps
    assert not jumped.busy and not jumped.decoding and not jumped._joined
    done = ~a.dropped
    assert done.sum() > 0
    # Every request's own arrays end as the step-by-step run leaves them, its times within
    # rounding (a jump sums its steps in closed form).
    for field in ("gen", "cached", "preemptions", "dropped"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert np.array_equal(a.gen[done], a.out[done])
    assert not a.blocks.any() and jumped.free == jumped.total_blocks
    if kv_tokens == 800 and name != "reserve":
        assert a.preemptions.sum() > 0
    for field in ("first_s", "finish_s"):
        np.testing.assert_allclose(getattr(a, field)[done], getattr(b, field)[done],
                                   rtol=1e-9, atol=0)
