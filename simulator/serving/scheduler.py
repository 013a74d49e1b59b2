"""One serving replica's engine, in the way current engines (vLLM, SGLang) schedule.

Continuous batching at iteration granularity. Mixed iterations (vLLM, TensorRT-LLM's in-flight
batching) run every decoding sequence one token and fill what is left of the token budget with
prompt tokens; unmixed ones (SGLang's default, and chunking off without `mixed`) run prompts in
prefill-only iterations whenever one can be admitted, decodes otherwise. Chunked prefill splits
a prompt over iterations (at most `chunk_size` tokens of one prompt per iteration); without it
a prompt runs whole. Sequences are admitted first come first served while the cap on running
sequences, the token budget and the paged KV cache allow. When a decode needs a block and none
is free, the newest running sequence is preempted and later recomputed (its prompt and
generated tokens prefilled again). With `admit_reserve` r > 0 a request is admitted only if
the free KV cache also holds r times the output every running sequence (and it) has still to
generate, as TensorRT-LLM (r = 1: never evicts) and SGLang (r = its new-token ratio) admit.
Each iteration adds the engine's host overhead.

Stretches of identical decode-only iterations (nothing to admit, no arrival, no finish, no new
block short) are run in one jump: step times are linear in the cache length, so their sum has a
closed form. That keeps 10,000 requests to a few thousand Python steps.

Every decoding sequence of a replica gains a token in every iteration that decodes, so their
caches grow in lockstep: a replica counts that common growth (`_lock`) and keeps each decoding
sequence's cache and tokens relative to it, with the set's sums (cache tokens, whole blocks,
the block residues) and a heap of the tokens each still owes, as Python integers; a sequence's
arrays are written when it leaves the set (finished or preempted). The integers are exact, so
the times and every decision are those of updating every sequence's arrays at each step.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from simulator.serving.iteration_cost import IterationCost

_NO_LIMIT = 1 << 62          # steps: no limit


@dataclass(frozen=True)
class SchedulerConfig:
    max_seqs: int = 256                  # running sequences per replica (vLLM max_num_seqs)
    max_batched_tokens: int = 8192       # tokens per iteration (vLLM max_num_batched_tokens)
    chunked_prefill: bool = True
    block_size: int = 16                 # tokens per KV-cache block
    kv_tokens_limit: int | None = None   # what-if: a smaller KV cache than memory allows
    chunk_size: int | None = None        # one prompt's tokens per iteration (None: the budget)
    mixed: bool | None = None            # prompts and decodes share iterations (None: chunked)
    host_overhead_s: float = 0.0         # per iteration, not hidden behind the GPU
    # Admit a request only while the KV cache also holds this share of every running one's
    # output still to come (0: vLLM, no reservation; 1: TensorRT-LLM GUARANTEED_NO_EVICT).
    admit_reserve: float = 0.0

    def __post_init__(self) -> None:
        caps = (self.max_seqs, self.max_batched_tokens, self.block_size,
                self.kv_tokens_limit or 1, self.chunk_size or 1)
        if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in caps):
            raise ValueError("scheduler caps must be whole numbers >= 1: max_seqs, "
                             "max_batched_tokens, block_size, kv_tokens_limit and chunk_size")
        if not 0 <= self.host_overhead_s < 1:
            raise ValueError(f"host overhead per iteration must be in [0, 1) s, not "
                             f"{self.host_overhead_s!r}")
        if not 0 <= self.admit_reserve <= 1:
            raise ValueError(f"the KV reservation at admission must be in [0, 1], not "
                             f"{self.admit_reserve!r}")

    @property
    def mixes(self) -> bool:
        """Whether prompt tokens and decodes run in the same iteration."""
        return self.chunked_prefill if self.mixed is None else self.mixed

    @property
    def chunk(self) -> int:
        return min(self.chunk_size or self.max_batched_tokens, self.max_batched_tokens)

    def never_fits(self, prompt_tokens: int) -> bool:
        """A prompt no iteration can take: longer than the budget with chunking off."""
        return not self.chunked_prefill and prompt_tokens > self.max_batched_tokens


def _steps_before(a: float, slope: float, mean_ctx: float, span_s: float) -> int:
    """How many decode steps start within `span_s`: step j starts after
    cum(j) = j a + slope (j mean_ctx + j (j - 1) / 2) seconds (at least one)."""
    if span_s == np.inf:
        return np.iinfo(np.int64).max
    b = a + slope * (mean_ctx - 0.5)
    if slope > 0:
        j = (-b + math.sqrt(b * b + 2 * slope * span_s)) / slope
    else:
        j = span_s / b if b > 0 else np.inf
    if j == np.inf:
        return np.iinfo(np.int64).max
    n = max(int(math.ceil(j)), 1)      # the first j with cum(j) >= span_s, up to rounding

    def cum(k: int) -> float:
        return k * b + slope * k * k / 2

    while n > 1 and cum(n - 1) >= span_s:
        n -= 1
    while cum(n) < span_s:
        n += 1
    return n


class RequestState:
    """Per-request arrays shared by every replica of one simulation (indexed by request id)."""

    def __init__(self, arrival_s: np.ndarray, input_len: np.ndarray, output_len: np.ndarray):
        n = len(arrival_s)
        self.arrival_s, self.prompt, self.out = arrival_s, input_len, output_len
        self.need = input_len.copy()           # tokens to prefill (grows on recompute)
        self.prefilled = np.zeros(n, np.int64)
        self.cached = np.zeros(n, np.int64)    # tokens whose KV is stored
        self.gen = np.zeros(n, np.int64)
        self.blocks = np.zeros(n, np.int64)
        self.first_s = np.full(n, np.nan)
        self.finish_s = np.full(n, np.nan)
        self.replica = np.full(n, -1, np.int64)
        self.preemptions = np.zeros(n, np.int64)
        self.dropped = np.zeros(n, bool)
        self.drop_why = np.zeros(n, np.int8)   # DROP_REASONS index, 0 when not dropped


# Why a request was dropped at arrival (RequestState.drop_why).
DROP_REASONS = ("", "its prompt is longer than the token budget per iteration and chunked "
                "prefill is off", "its prompt and output need more KV cache than the replica has")


ROLES = ("both", "prefill", "decode")


class Replica:
    """`role`: "both" serves whole requests; with disaggregation, a "prefill" replica hands
    each request on after its first token (`handoffs`) and a "decode" replica takes requests
    whose prompt KV cache arrives with them (it still recomputes the ones it preempts)."""

    def __init__(self, index: int, cost: IterationCost, config: SchedulerConfig,
                 kv_tokens: int, state: RequestState, role: str = "both"):
        if role not in ROLES:
            raise ValueError(f"unknown replica role {role!r}; use {', '.join(ROLES)}")
        self.index, self.cost, self.cfg, self.s, self.role = index, cost, config, state, role
        self.handoffs: list[tuple[int, float]] = []     # prefill role: (request, time)
        self.total_blocks = kv_tokens // config.block_size
        self.free = self.total_blocks
        self.now = 0.0
        self.waiting: deque[int] = deque()
        self.prefilling: list[int] = []
        self.decoding: list[int] = []
        self.assigned = self.finished = 0
        self.log: list[tuple[float, int, int, int]] = []   # (time, queue, running, blocks used)
        self.done: list[int] | None = None    # a closed loop collects finished requests here
        self.pending = 0                      # output tokens the running sequences still owe
        # The decoding set in lockstep form (see the module's docstring): each sequence's cache
        # and generated tokens are its base here plus `_lock`; `_joined` (request: base cache,
        # base generated), `_owe` (request: tokens owed + `_lock`) and `_heap` of those.
        self._lock = 0
        self._joined: dict[int, tuple[int, int]] = {}
        self._owe: dict[int, int] = {}
        self._heap: list[tuple[int, int]] = []
        self._cache_sum = 0                       # sum of base caches
        self._whole = 0                           # sum of (base cache - 1) // block
        self._residues = [0] * config.block_size  # count of each (base cache - 1) % block

    @property
    def busy(self) -> bool:
        return bool(self.waiting or self.prefilling or self.decoding)

    @property
    def outstanding(self) -> int:
        return self.assigned - self.finished

    def _blocks_for(self, tokens: int) -> int:
        return -(-int(tokens) // self.cfg.block_size)

    def _owed(self, r: int) -> int:
        """Output tokens request `r` still generates here (one on a prefill replica)."""
        last = 1 if self.role == "prefill" else int(self.s.out[r])
        return max(last - int(self.s.gen[r]), 0)

    def _fits(self, r: int, tokens: int) -> bool:
        """`tokens` of r's KV now, and the reservation for what every running one owes."""
        extra = 0
        if self.cfg.admit_reserve:
            extra = -(-int(self.cfg.admit_reserve * (self.pending + self._owed(r)))
                      // self.cfg.block_size)
        return self._blocks_for(tokens) + extra <= self.free

    def _start(self, r: int) -> None:
        self.pending += self._owed(r)

    def add(self, r: int, t: float) -> None:
        s, cfg = self.s, self.cfg
        s.replica[r] = self.index
        self.assigned += 1
        too_long = self.role != "decode" and cfg.never_fits(int(s.prompt[r]))
        tokens = s.prompt[r] + (1 if self.role == "prefill" else s.out[r])
        if too_long or self._blocks_for(tokens) > self.total_blocks:
            # NB: a request that can never fit is dropped at arrival, not queued.
            s.dropped[r] = True
            s.drop_why[r] = 1 if too_long else 2
            self.finished += 1
            if self.done is not None:
                self.done.append(r)
            return
        if not self.busy:
            self.now = max(self.now, t)
        self.waiting.append(r)

    def advance_until(self, t: float) -> None:
        """Run every iteration that starts before `t`."""
        while self.now < t and self.busy:
            self.run_once(t)

    def run_once(self, t: float = np.inf) -> None:
        """One iteration, or one stretch of identical decode iterations ending by `t`."""
        self._admit_transferred()
        if not self._jump(t):
            self._step()
        if not self.busy:
            self._record()              # idle from here

    def _admissible(self, budget: int) -> bool:
        if not self.waiting or len(self.prefilling) + len(self.decoding) >= self.cfg.max_seqs:
            return False
        r = self.waiting[0]
        if not self._fits(r, self.s.need[r]):
            return False
        if self.cfg.chunked_prefill:
            return budget > 0
        # NB: a recomputed sequence longer than the token budget is prefilled alone.
        return self.s.need[r] <= budget or budget == self.cfg.max_batched_tokens

    def _admit_transferred(self) -> None:
        """Decode role: requests whose KV cache arrived go straight to decoding."""
        s = self.s
        while self.waiting and s.cached[self.waiting[0]] > 0 \
                and len(self.prefilling) + len(self.decoding) < self.cfg.max_seqs \
                and self._fits(self.waiting[0], s.cached[self.waiting[0]]):
            r = self.waiting.popleft()
            s.blocks[r] = self._blocks_for(s.cached[r])
            self.free -= int(s.blocks[r])
            self._start(r)
            self._join(r)

    def _record(self) -> None:
        self.log.append((self.now, len(self.waiting), len(self.prefilling) + len(self.decoding),
                         self.total_blocks - self.free))

    def _jump(self, t: float) -> bool:
        """Run a stretch of decode-only iterations in one go; False when none applies."""
        if self.prefilling or not self.decoding:
            return False
        budget = self.cfg.max_batched_tokens - (len(self.decoding) if self.cfg.mixes else 0)
        if self._admissible(budget):
            return False
        n = len(self.decoding)
        k_max = self._fewest_owed()
        k = min(k_max, self._steps_within_blocks(n, k_max), self._steps_reserve_holds(n, budget))
        if k < 1:
            return False
        a, slope = self.cost.decode_line(n)
        a += self.cfg.host_overhead_s
        mean_ctx = float(self._cache_sum + n * self._lock) / n
        k = min(k, _steps_before(a, slope, mean_ctx, t - self.now))
        self._record()
        self.now += k * a + slope * (k * mean_ctx + k * (k - 1) / 2)
        self._grow(k)
        if k == k_max:
            self._finish_done()
        return True

    def _steps_reserve_holds(self, n: int, budget: int) -> int:
        """Decode steps before the first waiting request could fit under `admit_reserve`: the
        reservation shrinks by n tokens a step, so admission is re-checked once the shrunken
        reservation alone would let it in (the free blocks only fall while decoding, so none
        is admitted earlier). Unlimited where the reservation is not what holds it back."""
        cfg = self.cfg
        if not cfg.admit_reserve or not self.waiting \
                or len(self.decoding) >= cfg.max_seqs:
            return _NO_LIMIT
        r = self.waiting[0]
        need = int(self.s.need[r])
        if not (cfg.chunked_prefill and budget > 0 or need <= budget
                or budget == cfg.max_batched_tokens):
            return _NO_LIMIT                     # the token budget holds it back
        room = self.free - self._blocks_for(need)
        if room < 0:
            return _NO_LIMIT                     # short of blocks even without a reservation
        owed = self.pending + self._owed(r)

        def fits_after(j: int) -> bool:
            return -(-int(cfg.admit_reserve * (owed - j * n)) // cfg.block_size) <= room

        j = max(int((owed - room * cfg.block_size / cfg.admit_reserve) // n), 1)
        while j > 1 and fits_after(j - 1):
            j -= 1
        while not fits_after(j):
            j += 1
        return j

    def _join(self, r: int) -> None:
        """Request r (its arrays up to date) starts decoding."""
        s, bs, lock = self.s, self.cfg.block_size, self._lock
        c, g = int(s.cached[r]), int(s.gen[r])
        base = c - lock
        self._joined[r] = (base, g - lock)
        self._cache_sum += base
        self._whole += (base - 1) // bs
        self._residues[(base - 1) % bs] += 1
        owe = int(s.out[r]) - g + lock
        self._owe[r] = owe
        heapq.heappush(self._heap, (owe, r))
        self.decoding.append(r)

    def _leave(self, r: int) -> None:
        """Request r stops decoding (the caller takes it off the list): its arrays written."""
        s, bs, lock = self.s, self.cfg.block_size, self._lock
        base, g = self._joined.pop(r)
        del self._owe[r]
        c = base + lock
        s.cached[r] = c
        s.gen[r] = g + lock
        s.blocks[r] = -(-c // bs)
        self._cache_sum -= base
        self._whole -= (base - 1) // bs
        self._residues[(base - 1) % bs] -= 1

    def _fewest_owed(self) -> int:
        """The fewest output tokens a decoding sequence still owes."""
        heap, owe = self._heap, self._owe
        while owe.get(heap[0][1]) != heap[0][0]:      # left the set since
            heapq.heappop(heap)
        return heap[0][0] - self._lock

    def _blocks_at(self, lock: int) -> int:
        """Blocks the decoding set holds when the lockstep count is `lock`: the sum of
        ceil((base + lock) / block) = (base - 1) // block + 1 + lock // block, one more where
        (base - 1) % block + lock % block reaches a block."""
        bs = self.cfg.block_size
        n = len(self._joined)
        return self._whole + n + n * (lock // bs) + sum(self._residues[bs - lock % bs:])

    def _grow(self, k: int) -> None:
        """Every decoding sequence generated `k` more tokens: their caches grow."""
        lock = self._lock
        self.free -= self._blocks_at(lock + k) - self._blocks_at(lock)
        self.pending -= k * len(self.decoding)
        self._lock = lock + k

    def _steps_within_blocks(self, n: int, k_max: int) -> int:
        bs = self.cfg.block_size
        if self.free >= n * (k_max // bs + 1):      # enough even at the worst
            return k_max
        lock = self._lock
        now = self._blocks_at(lock)

        def new_blocks(k: int) -> int:
            return self._blocks_at(lock + k) - now

        if new_blocks(k_max) <= self.free:
            return k_max
        lo, hi = 0, k_max          # new_blocks(lo) fits, new_blocks(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if new_blocks(mid) <= self.free else (lo, mid)
        return lo

    def _finish_done(self) -> None:
        s = self.s
        if not self.decoding or self._fewest_owed() > 0:
            return
        heap, owe, lock = self._heap, self._owe, self._lock
        over = set()
        while heap:
            o, r = heap[0]
            if owe.get(r) != o:
                heapq.heappop(heap)
            elif o - lock <= 0:
                heapq.heappop(heap)
                over.add(r)
            else:
                break
        keep = []
        for r in self.decoding:                  # in the set's order
            if r not in over:
                keep.append(r)
                continue
            self._leave(r)
            self._release(r)
            s.finish_s[r] = self.now
            self.finished += 1
            if self.done is not None:
                self.done.append(r)
        self.decoding = keep

    def _hand_off(self, r: int) -> None:
        self._release(r)
        self.finished += 1
        self.handoffs.append((r, self.now))

    def _release(self, r: int) -> None:
        self.free += int(self.s.blocks[r])
        self.s.blocks[r] = 0

    def _preempt_for_decodes(self) -> None:
        """Free blocks for this iteration's decodes by preempting the newest sequences."""
        s, bs = self.s, self.cfg.block_size
        while True:
            if self.free >= len(self.decoding):        # enough, whichever need a block
                return
            short = self._residues[(bs - 1 - self._lock) % bs] - self.free
            if short <= 0 or not (self.prefilling or len(self.decoding) > 1):
                return
            if self.prefilling:
                victim = self.prefilling.pop()
            else:
                victim = self.decoding.pop()
                self._leave(victim)
            self.pending -= self._owed(victim)
            self._release(victim)
            s.need[victim] = s.prompt[victim] + s.gen[victim]
            s.prefilled[victim] = s.cached[victim] = 0
            s.preemptions[victim] += 1
            self.waiting.appendleft(victim)

    def _step(self) -> None:
        """One iteration."""
        s, cfg = self.s, self.cfg
        self._preempt_for_decodes()
        self._admit_transferred()
        budget = cfg.max_batched_tokens
        prefill_only = not cfg.mixes and (bool(self.prefilling) or self._admissible(budget))
        decodes = 0 if prefill_only else len(self.decoding)    # every decoding one, or none
        if cfg.mixes or prefill_only:
            budget -= decodes
            chunks = self._schedule_prefills(budget)
        else:
            chunks = []
        if not decodes and not chunks:
            raise RuntimeError(f"replica {self.index} is stuck at {self.now} s with "
                               f"{len(self.waiting)} requests waiting, {self.free} of "
                               f"{self.total_blocks} blocks free")
        self._record()
        tokens = sum(n for _, n in chunks)
        ctx = 0.0
        if decodes:
            ctx = float(self._cache_sum + decodes * self._lock) / decodes
        self.now += self.cost.iteration_s(tokens, decodes, ctx) + cfg.host_overhead_s
        if decodes:
            self._grow(1)
        for r, n in chunks:
            s.prefilled[r] += n
            if s.prefilled[r] >= s.need[r]:
                self.prefilling.remove(r)
                s.cached[r] = s.need[r]
                s.gen[r] += 1
                self.pending -= 1
                if math.isnan(s.first_s[r]):
                    s.first_s[r] = self.now
                if self.role == "prefill" and s.gen[r] < s.out[r]:
                    self._hand_off(r)
                else:
                    self._join(r)
        self._finish_done()

    def _schedule_prefills(self, budget: int) -> list[tuple[int, int]]:
        s, chunks, chunk = self.s, [], self.cfg.chunk
        for r in self.prefilling:
            if budget <= 0:
                return chunks
            n = min(int(s.need[r] - s.prefilled[r]), budget, chunk)
            chunks.append((r, n))
            budget -= n
        while self._admissible(budget):
            r = self.waiting.popleft()
            blocks = self._blocks_for(s.need[r])
            s.blocks[r] = blocks
            self.free -= blocks
            self._start(r)
            self.prefilling.append(r)
            n = min(int(s.need[r]), budget, chunk) if self.cfg.chunked_prefill \
                else int(s.need[r])
            chunks.append((r, n))
            budget -= n
        return chunks
