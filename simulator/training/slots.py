"""One GPU's kernel times for one micro-batch, summed per pipeline slot, cached per sharding.

A slot is a layer of the stack, or what comes before (embedding) or after (norm, vocabulary
projection, loss) it; stages are runs of slots (`simulator.parallel.pipeline`). Pricing the sharded
arrays is the only costly step of evaluating a plan, and it depends only on the sharding
(tp, sp, cp, ep, micro-batch), so plans that share one reuse it: the planner prices each
sharding once and evaluates the rest (pp, dp, ZeRO, schedule) as sums of these slots.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from hwspecs.schema import System
from simulator.core.arrays import KIND_CODE, PASS_CODE, OpArrays, bincount_rows, to_arrays
from simulator.core.distinct import distinct_ops
from simulator.core.options import Options
from simulator.core.precision import Precision
from simulator.core.pricing import price
from simulator.core.profile import EfficiencyProfile
from simulator.core.variants import Variants
from simulator.parallel.params import ParamSlots, param_slots
from simulator.parallel.roles import OpRoles, roles_of
from simulator.parallel.sharding import ShardSpec, shard
from workloads.op import OpKind, Pass, Workload

_FWD, _BWD = PASS_CODE[Pass.FORWARD], PASS_CODE[Pass.BACKWARD]
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
    """A workload, its roles and a device's pricing, with caches for the plan search.

    With `variants` the kernels are priced for every spec variant at once (one pricing-core
    call per sharding); `for_variant(i, system)` is the context of variant i, sharing those
    tables. `comm` holds the plan-level results `training.comm` keeps (collective times): they
    depend on the links, precision and profile, so variants with one link factor share it.
    """

    def __init__(self, workload: Workload, system: System, profile: EfficiencyProfile,
                 options: Options, variants: Variants | None = None) -> None:
        self.workload = workload
        self.system = system
        self.profile = profile
        self.options = options
        self.precision: Precision = options.precision
        self.variants = variants
        self.arrays: OpArrays = to_arrays(workload)
        self.roles: OpRoles = roles_of(workload, options.tp_plan)
        self.row = 0
        self._slots: dict[tuple, list[SlotTimes]] = {}
        self._optimizer: dict[tuple, np.ndarray] = {}
        self.comm: dict[tuple, object] = {}

    def for_variant(self, row: int, system: System, comm: dict | None = None) -> Prepared:
        """Variant `row`'s context on `system` (that variant's system), sharing the priced
        tables and the arrays; `comm` shares collective times with other variants."""
        view = copy.copy(self)
        view.row, view.system = row, system
        view.comm = {} if comm is None else comm
        return view

    @cached_property
    def main(self) -> tuple[OpArrays, OpRoles]:
        """The non-optimizer kernels (all of them: the collectives need every layer's)."""
        rows = np.flatnonzero(~self.roles.optimizer)
        return self.arrays.take(rows), _take_roles(self.roles, rows)

    @cached_property
    def compact(self) -> tuple[OpArrays, OpRoles, np.ndarray]:
        """One copy of each distinct layer's kernels, and which slot stands for each slot."""
        return _compact(*self.main, self.nslots)

    @cached_property
    def optimizer(self) -> tuple[OpArrays, OpRoles, np.ndarray]:
        rows = np.flatnonzero(self.roles.optimizer)
        return _compact(self.arrays.take(rows), _take_roles(self.roles, rows), self.nslots)

    @cached_property
    def params(self) -> ParamSlots:
        return param_slots(self.workload.model)

    @property
    def nslots(self) -> int:
        return self.roles.layers + 2

    @property
    def act_scale(self) -> float:
        """Activation bytes in the compute format over the traced format."""
        return self.precision.activations.bits / self.workload.dtype.bits

    def _price(self, sub: OpArrays) -> tuple[np.ndarray, np.ndarray]:
        """(time, busy) of every kernel of `sub` as (V, rows), its distinct kernels priced."""
        d = distinct_ops(sub)
        t = price(d.ops, self.system.device, self.profile, self.workload.dtype,
                  self.precision, self.variants)
        return np.take(t.time_s, d.inverse, axis=1), np.take(t.busy_s, d.inverse, axis=1)

    def slot_times(self, spec: ShardSpec) -> SlotTimes:
        key = spec.key[:-1]   # the optimizer split does not change the other kernels
        if key not in self._slots:
            a, r, rep = self.compact
            sub = shard(a, r, spec)
            time_s, busy = self._price(sub)
            self._slots[key] = slot_tables(sub, r.slot, rep, self.nslots, self.act_scale,
                                           time_s, busy)
        return self._slots[key][self.row]

    def optimizer_s(self, spec: ShardSpec) -> np.ndarray:
        """Per-slot optimizer-step time of one GPU."""
        key = (spec.tp, spec.ep, spec.optimizer_shards)
        if key not in self._optimizer:
            a, r, rep = self.optimizer
            rows = 1 if self.variants is None else len(self.variants)
            if len(a) == 0:
                self._optimizer[key] = np.zeros((rows, self.nslots))
            else:
                time_s, _ = self._price(shard(a, r, spec))
                self._optimizer[key] = bincount_rows(r.slot, time_s, self.nslots)[:, rep]
        return self._optimizer[key][self.row]

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
                   "fixed", "fixed_write", "head_batched", "expert_split_k")


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
    return a.take(rows), _take_roles(r, rows), rep


def _take_roles(r: OpRoles, rows: np.ndarray) -> OpRoles:
    arrays = {name: getattr(r, name)[rows] for name in (
        "tp_mode", "sp", "kv_cap", "tok_dim", "tp_dim", "expert", "embedding", "fixed",
        "fixed_write", "optimizer", "slot", "tp_fwd_bytes", "tp_bwd_bytes", "ep_bytes",
        "cp_kv_bytes", "head_batched", "expert_split_k")}
    return OpRoles(layers=r.layers, tokens=r.tokens, kv_heads=r.kv_heads,
                   kv_replicated=r.kv_replicated, hidden_size=r.hidden_size, **arrays)


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
