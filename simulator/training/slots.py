"""One GPU's kernel times for one micro-batch, summed per pipeline slot, cached per sharding.

A slot is a layer of the stack, or what comes before (embedding) or after (norm, vocabulary
projection, loss) it; stages are runs of slots (`simulator.parallel.pipeline`). Pricing the sharded
arrays is the only costly step of evaluating a plan, and it depends only on the sharding
(tp, sp, cp, ep, micro-batch), so plans that share one reuse it: the planner prices each
sharding once and evaluates the rest (pp, dp, ZeRO, schedule) as sums of these slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hwspecs.schema import System
from simulator.core.arrays import KIND_CODE, PASSES, OpArrays, bincount_rows, to_arrays
from simulator.core.efficiency import EfficiencyProfile
from simulator.core.precision import Precision
from simulator.core.roofline import price
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec, shard
from workloads.op import OpKind, Pass, Workload

_FWD, _BWD = PASSES.index(Pass.FORWARD), PASSES.index(Pass.BACKWARD)
_ATTN = KIND_CODE[OpKind.ATTENTION]


@dataclass(frozen=True)
class SlotTimes:
    """Per-slot sums (arrays of length layers + 2) for one micro-batch on one GPU."""

    fwd_s: np.ndarray
    bwd_s: np.ndarray
    recompute_selective_s: np.ndarray
    recompute_full_s: np.ndarray
    fwd_matrix_s: np.ndarray       # GEMM + attention time in forward (what TP overlap hides in)
    bwd_matrix_s: np.ndarray
    attn_fwd_s: np.ndarray         # attention alone (what ring-attention passing hides in)
    attn_bwd_s: np.ndarray
    fwd_act_bytes: np.ndarray      # forward outputs (the activations backward may keep)
    fwd_matrix_act_bytes: np.ndarray
    transient_bytes: np.ndarray    # largest single kernel's activations in the slot
    busy_s: float                  # compute-or-memory-bound time of all kernels (for power)
    recompute_busy_full_s: float
    recompute_busy_selective_s: float


class Prepared:
    """A workload, its roles and a device's pricing, with caches for the plan search."""

    def __init__(self, workload: Workload, system: System, profile: EfficiencyProfile,
                 precision: Precision, tp_plan=None) -> None:
        self.workload = workload
        self.system = system
        self.profile = profile
        self.precision = precision
        self.arrays: OpArrays = to_arrays(workload)
        self.roles: OpRoles = roles_of(workload, tp_plan)
        self._slots: dict[tuple, SlotTimes] = {}
        self._optimizer: dict[tuple, np.ndarray] = {}
        self.cache: dict[tuple, object] = {}    # plan-level results other modules keep here

    @cached_property
    def main(self) -> tuple[OpArrays, OpRoles]:
        """The non-optimizer kernels (all of them: the collectives need every layer's)."""
        rows = np.flatnonzero(~self.roles.optimizer)
        return _take(self.arrays, rows), _take_roles(self.roles, rows)

    @cached_property
    def compact(self) -> tuple[OpArrays, OpRoles, np.ndarray]:
        """One copy of each distinct layer's kernels, and which slot stands for each slot."""
        return _compact(*self.main, self.nslots)

    @cached_property
    def optimizer(self) -> tuple[OpArrays, OpRoles, np.ndarray]:
        rows = np.flatnonzero(self.roles.optimizer)
        return _compact(_take(self.arrays, rows), _take_roles(self.roles, rows), self.nslots)

    @property
    def nslots(self) -> int:
        return self.roles.layers + 2

    @property
    def act_scale(self) -> float:
        """Activation bytes in the compute format over the traced format."""
        return self.precision.activations.bits / self.workload.dtype.bits

    def slot_times(self, spec: ShardSpec) -> SlotTimes:
        key = spec.key[:-1]   # the optimizer split does not change the other kernels
        if key not in self._slots:
            self._slots[key] = self._price_main(spec)
        return self._slots[key]

    def optimizer_s(self, spec: ShardSpec) -> np.ndarray:
        """Per-slot optimizer-step time of one GPU."""
        key = (spec.tp, spec.ep, spec.optimizer_shards)
        if key not in self._optimizer:
            a, r, rep = self.optimizer
            if len(a) == 0:
                self._optimizer[key] = np.zeros(self.nslots)
            else:
                t = price(shard(a, r, spec), self.system.device, self.profile,
                          self.workload.dtype, self.precision)
                self._optimizer[key] = np.bincount(r.slot, weights=t.time_s,
                                                   minlength=self.nslots)[rep]
        return self._optimizer[key]

    def _price_main(self, spec: ShardSpec) -> SlotTimes:
        a, r, rep = self.compact
        sub = shard(a, r, spec)
        t = price(sub, self.system.device, self.profile, self.workload.dtype, self.precision)
        busy = np.maximum(t.compute_s, t.memory_s)
        return slot_tables(sub, r.slot, rep, self.nslots, self.act_scale, t.time_s[None, :],
                           busy[None, :])[0]

    @cached_property
    def traced_flops(self) -> dict[str, float]:
        """Model FLOPs of the traced step (forward + backward) and the recompute extras."""
        a = self.arrays
        fwd, bwd = a.pass_ == _FWD, a.pass_ == _BWD
        in_layer = a.layer >= 0
        return {"model": float(a.flops[fwd | bwd].sum()),
                "optimizer": float(a.flops[~(fwd | bwd)].sum()),
                "full": float(a.flops[fwd & in_layer].sum()),
                "selective": float(a.flops[fwd & in_layer & ~a.on_matrix].sum()),
                "fwd_act_bytes": float(a.act_write_bytes[fwd].sum())}


_SIGNATURE = ("kind", "flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
              "kv_read_bytes", "kv_write_bytes", "other_bytes", "compute_dtype", "m", "n", "k",
              "batch", "pass_")
_ROLE_SIGNATURE = ("tp_mode", "sp", "kv_cap", "tok_dim", "tp_dim", "expert", "embedding",
                   "fixed", "fixed_write")


def _compact(a: OpArrays, r: OpRoles, nslots: int) -> tuple[OpArrays, OpRoles, np.ndarray]:
    """Keep the rows of the first of each group of identical layers; `rep[s]` is the slot
    whose sums stand for slot s. Transformer layers repeat, so this prices a handful of
    layers instead of all of them (same result: identical rows price identically)."""
    rep = np.arange(nslots)
    if len(a) == 0:
        return a, r, rep
    cols = np.column_stack([getattr(a, c).astype(float) for c in _SIGNATURE]
                           + [getattr(r, c).astype(float) for c in _ROLE_SIGNATURE])
    order = np.argsort(r.slot, kind="stable")
    bounds = np.searchsorted(r.slot[order], np.arange(nslots + 1))
    keep = np.ones(len(a), bool)
    seen: dict[bytes, int] = {}
    for s in range(1, nslots - 1):
        rows = order[bounds[s]:bounds[s + 1]]
        key = cols[rows].tobytes()
        if key in seen:
            rep[s] = seen[key]
            keep[rows] = False
        else:
            seen[key] = s
    rows = np.flatnonzero(keep)
    return _take(a, rows), _take_roles(r, rows), rep


def _take(a: OpArrays, rows: np.ndarray) -> OpArrays:
    fields = {name: getattr(a, name)[rows] for name in (
        "kind", "flops", "weight_read_bytes", "act_read_bytes", "act_write_bytes",
        "kv_read_bytes", "kv_write_bytes", "other_bytes", "compute_dtype", "m", "n", "k",
        "batch", "weight_elements", "layer", "pass_")}
    return OpArrays(names=tuple(a.names[i] for i in rows), **fields)


def _take_roles(r: OpRoles, rows: np.ndarray) -> OpRoles:
    arrays = {name: getattr(r, name)[rows] for name in (
        "tp_mode", "sp", "kv_cap", "tok_dim", "tp_dim", "expert", "embedding", "fixed",
        "fixed_write", "optimizer", "slot", "tp_fwd_bytes", "tp_bwd_bytes", "ep_bytes",
        "cp_kv_bytes")}
    return OpRoles(layers=r.layers, tokens=r.tokens, kv_heads=r.kv_heads, **arrays)


def slot_tables(sub: OpArrays, slot: np.ndarray, rep: np.ndarray, nslots: int,
                act_scale: float, time_rows: np.ndarray, busy_rows: np.ndarray
                ) -> list[SlotTimes]:
    """The `SlotTimes` of one sharded micro-batch for each row of (V, kernels) times: one row
    for a device, one per spec variant for a sweep (the same sums, row by row)."""
    fwd, bwd = sub.pass_ == _FWD, sub.pass_ == _BWD
    matrix, attn = sub.on_matrix, sub.kind == _ATTN
    in_layer = sub.layer >= 0

    def rows(values, mask):
        return bincount_rows(slot[mask], values[:, mask], nslots)[:, rep]

    def per_slot(values, mask):
        return np.bincount(slot[mask], weights=values[mask], minlength=nslots)[rep]

    acts = sub.act_write_bytes * act_scale
    transient = np.zeros(nslots)
    np.maximum.at(transient, slot, (sub.act_read_bytes + sub.act_write_bytes) * act_scale)
    full, selective = fwd & in_layer, fwd & in_layer & ~matrix
    every = np.ones(len(sub), bool)
    t = time_rows
    timed = {"fwd_s": rows(t, fwd), "bwd_s": rows(t, bwd),
             "recompute_selective_s": rows(t, selective), "recompute_full_s": rows(t, full),
             "fwd_matrix_s": rows(t, fwd & matrix), "bwd_matrix_s": rows(t, bwd & matrix),
             "attn_fwd_s": rows(t, fwd & attn), "attn_bwd_s": rows(t, bwd & attn)}
    busy_all, busy_full, busy_selective = (rows(busy_rows, every), rows(busy_rows, full),
                                           rows(busy_rows, selective))
    fixed = {"fwd_act_bytes": per_slot(acts, fwd),
             "fwd_matrix_act_bytes": per_slot(acts, fwd & matrix),
             "transient_bytes": transient[rep]}
    return [SlotTimes(**{k: v[i] for k, v in timed.items()}, **fixed,
                      busy_s=float(busy_all[i].sum()),
                      recompute_busy_full_s=float(busy_full[i].sum()),
                      recompute_busy_selective_s=float(busy_selective[i].sum()))
            for i in range(len(time_rows))]
