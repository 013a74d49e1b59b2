"""The communication of a training plan, per pipeline stage, and how much of it is exposed.

Per micro-batch: tensor parallelism all-reduces each block's output in forward and its input
gradient in backward (reduce-scatter + all-gather of the same bytes with sequence parallelism;
the forward again under full recompute); context parallelism passes K/V chunks around a ring
(cp - 1 steps forward, twice that backward); expert parallelism beyond the TP group runs an
all-to-all dispatch and combine per MoE layer, forward and backward; ZeRO-3 gathers each
layer's weights for forward and again for backward and reduce-scatters its gradients, layer by
layer behind the compute of the layers around it (`simulator.training.zero3`); pipeline
stages send activations forward and gradients back. Per step: the gradient all-reduce (ZeRO-0)
or reduce-scatter plus the parameter all-gather (ZeRO-1/2) over dp x cp.

Every collective call also pays one kernel launch (the profile's per-kernel overhead), since
the shipped link specs publish no latency. What hides behind compute follows `Overlap`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.comm.costs import collective_overhead_s, collective_times
from simulator.core.memory import Recompute
from simulator.parallel.params import ParamSlots
from simulator.parallel.pipeline import p2p_time_s, per_stage, stage_of_slot
from simulator.parallel.plan import Plan
from simulator.parallel.sharding import ShardSpec
from simulator.training import zero3
from simulator.training.slots import Prepared, SlotTimes


@dataclass(frozen=True)
class PlanComm:
    """Per-stage arrays (length pp): per micro-batch unless the name says step."""

    tp_s: np.ndarray
    tp_exposed_s: np.ndarray
    cp_s: np.ndarray
    cp_exposed_s: np.ndarray
    ep_s: np.ndarray
    zero3_s: np.ndarray
    zero3_exposed_s: np.ndarray
    p2p_s: float
    p2p_exposed_s: float
    dp_step_s: np.ndarray
    dp_step_exposed_s: np.ndarray

    @property
    def per_micro_batch_exposed_s(self) -> np.ndarray:
        return (self.tp_exposed_s + self.cp_exposed_s + self.ep_s + self.zero3_exposed_s
                + self.p2p_exposed_s)

    @property
    def per_micro_batch_s(self) -> np.ndarray:
        return self.tp_s + self.cp_s + self.ep_s + self.zero3_s + self.p2p_s


def _calls(prep: Prepared, kind: str, sizes: np.ndarray, group: int, stride: int) -> np.ndarray:
    """Time of each collective call of `sizes` bytes, launch included (0 for a group of 1)."""
    if group == 1 or sizes.size == 0:
        return np.zeros(sizes.shape)
    times = collective_times(prep.system, kind, sizes, group, stride, profile=prep.profile)
    return times + np.where(sizes > 0, collective_overhead_s(prep.profile, kind, group), 0.0)


def _per_slot(prep: Prepared, slots: np.ndarray, times: np.ndarray) -> np.ndarray:
    return np.bincount(slots, weights=times, minlength=prep.nslots)


def _tp(prep: Prepared, plan: Plan, spec: ShardSpec) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) TP collective seconds per slot for one micro-batch."""
    key = ("tp", plan.tp, plan.sp, spec.token_factor, plan.cp)
    if key not in prep.comm:
        _, r = prep.main
        scale = spec.token_factor / plan.cp * prep.act_scale
        out = []
        for column in (r.tp_fwd_bytes, r.tp_bwd_bytes):
            rows = np.flatnonzero(column)
            sizes = column[rows] * scale
            if plan.sp:
                t = _calls(prep, "reduce_scatter", sizes, plan.tp, 1) \
                    + _calls(prep, "all_gather", sizes, plan.tp, 1)
            else:
                t = _calls(prep, "all_reduce", sizes, plan.tp, 1)
            out.append(_per_slot(prep, r.slot[rows], t))
        prep.comm[key] = tuple(out)
    return prep.comm[key]


def _cp(prep: Prepared, plan: Plan, spec: ShardSpec) -> np.ndarray:
    """Ring-attention seconds per slot for one micro-batch's forward (backward is twice)."""
    if plan.cp == 1:
        return np.zeros(prep.nslots)
    _, r = prep.main
    rows = np.flatnonzero(r.cp_kv_bytes)
    chunk = r.cp_kv_bytes[rows] * spec.token_factor / plan.cp \
        / min(plan.tp, r.kv_heads or plan.tp) * prep.act_scale
    step = _calls(prep, "send_recv", chunk, plan.cp, plan.tp)
    return _per_slot(prep, r.slot[rows], (plan.cp - 1) * step)


def _ep(prep: Prepared, plan: Plan, spec: ShardSpec) -> np.ndarray:
    """All-to-all seconds per slot for one micro-batch (dispatch + combine, both passes)."""
    if plan.ep <= plan.tp:
        # NB: experts spread inside the TP group combine through the TP all-reduce already
        # counted for the block (tokens are on every rank of the group).
        return np.zeros(prep.nslots)
    _, r = prep.main
    rows = np.flatnonzero(r.ep_bytes)
    sizes = r.ep_bytes[rows] * spec.token_factor / plan.cp / plan.tp * prep.act_scale \
        * plan.expert_imbalance
    # NB: the EP group is taken as ep consecutive ranks (TP first, then DP; exact when cp = 1).
    t = _calls(prep, "all_to_all", sizes, plan.ep, 1)
    return _per_slot(prep, r.slot[rows], 4 * t)


def _param_slot_sizes(params: ParamSlots, plan: Plan) -> np.ndarray:
    dense = params.dense.copy()
    if params.tied and plan.pp == 1:
        dense[-1] = 0.0
    return dense / plan.tp + params.expert / max(plan.tp, plan.ep)


def _dp_calls(prep: Prepared, plan: Plan, params: ParamSlots) -> tuple[np.ndarray, ...]:
    """Per-slot call times over dp x cp: (gradient, parameter) for ZeRO 0-2, or (gather,
    scatter) for ZeRO-3; cached, since they depend on neither micro-batch nor recompute."""
    group, stride = plan.dp_shards, plan.tp
    key = ("dp", plan.tp, plan.ep, plan.pp, group, plan.zero)
    if key not in prep.comm:
        p_slot = _param_slot_sizes(params, plan)
        grads = p_slot * prep.precision.weights.bytes
        weights = p_slot * prep.precision.weight_bytes_per_element()
        if plan.zero == 3:
            calls = (_calls(prep, "all_gather", weights, group, stride),
                     _calls(prep, "reduce_scatter", grads, group, stride))
        elif plan.zero == 0:
            calls = (_calls(prep, "all_reduce", grads, group, stride), np.zeros(len(grads)))
        else:
            calls = (_calls(prep, "reduce_scatter", grads, group, stride),
                     _calls(prep, "all_gather", weights, group, stride))
        prep.comm[key] = calls
    return prep.comm[key]


def _dp(prep: Prepared, plan: Plan, params: ParamSlots, slot_fwd: np.ndarray,
        slot_bwd: np.ndarray, stage_fwd: np.ndarray, stage_bwd: np.ndarray):
    """(step seconds, step exposed, per-mb ZeRO-3 seconds, per-mb ZeRO-3 exposed) per stage.
    `slot_bwd` holds each slot's backward with its recomputed forward."""
    pp, layers = plan.pp, prep.roles.layers
    zeros = np.zeros(pp)
    if plan.dp_shards == 1:
        return zeros, zeros, zeros, zeros
    split = plan.pp_layers
    stage = stage_of_slot(layers, pp, split)
    if plan.zero == 3:
        gather, scatter = _dp_calls(prep, plan, params)
        total = per_stage(2 * gather + scatter, layers, pp, split)
        if not plan.overlap.zero_prefetch:
            return zeros, zeros, total, total
        depth = plan.overlap.zero_prefetch_layers
        key = ("z3", plan.tp, plan.ep, pp, plan.dp_shards, split, depth, slot_fwd.tobytes(),
               slot_bwd.tobytes())
        if key not in prep.comm:
            prep.comm[key] = np.array([
                zero3.exposed_s(gather[s], scatter[s], slot_fwd[s], slot_bwd[s], depth)
                for s in (np.flatnonzero(stage == i) for i in range(pp))])
        return zeros, zeros, total, np.minimum(prep.comm[key], total)
    grad_t, param_t = _dp_calls(prep, plan, params)
    grad_s, param_s = per_stage(grad_t, layers, pp, split), per_stage(param_t, layers, pp,
                                                                          split)
    total = grad_s + param_s
    if not plan.overlap.dp:
        return total, total, zeros, zeros
    exposed = np.maximum(_stage_max(grad_t, stage, pp), grad_s - stage_bwd) \
        + np.maximum(_stage_max(param_t, stage, pp), param_s - stage_fwd)
    return total, np.minimum(exposed, total), zeros, zeros


def _stage_max(values: np.ndarray, stage: np.ndarray, pp: int) -> np.ndarray:
    out = np.zeros(pp)
    np.maximum.at(out, stage, values)
    return out


def _p2p(prep: Prepared, plan: Plan, seq: int) -> float:
    """Pipeline sends per micro-batch (forward and backward), with the TP all-gather that
    reassembles a scattered boundary."""
    whole = plan.micro_batch * seq / plan.cp * prep.workload.model.hidden_size \
        * prep.precision.activations.bytes
    sliced = plan.tp > 1 and (plan.sp or plan.overlap.p2p_scatter_gather)
    key = ("p2p", plan.pp, plan.tp, plan.cp * plan.dp, plan.vp, whole, sliced, plan.sp)
    if key not in prep.comm:
        t = p2p_time_s(prep.system, plan, whole / plan.tp if sliced else whole, prep.profile)
        if t > 0:
            t += 2 * plan.vp * collective_overhead_s(prep.profile, "send_recv")
            if sliced and not plan.sp:
                gather = float(_calls(prep, "all_gather", np.array([whole]), plan.tp, 1)[0])
                t += 2 * plan.vp * gather
        prep.comm[key] = float(t)
    return prep.comm[key]


def plan_comm(prep: Prepared, st: SlotTimes, plan: Plan, spec: ShardSpec,
              params: ParamSlots, seq: int) -> PlanComm:
    layers, pp, ov = prep.roles.layers, plan.pp, plan.overlap

    def stages(x: np.ndarray) -> np.ndarray:
        return per_stage(x, layers, pp, plan.pp_layers)

    tp_fwd, tp_bwd = _tp(prep, plan, spec)
    rerun = tp_fwd if plan.recompute is Recompute.FULL else 0.0
    tp = stages(tp_fwd + tp_bwd + rerun)
    matrix = stages(st.fwd_matrix_s + st.bwd_matrix_s)
    tp_exposed = np.maximum(tp - matrix, 0.0) if ov.tp else tp
    cp_fwd = _cp(prep, plan, spec)
    cp = stages(3 * cp_fwd)
    cp_exposed = (np.maximum(stages(cp_fwd - st.attn_fwd_s), 0.0)
                  + np.maximum(stages(2 * cp_fwd - st.attn_bwd_s), 0.0)) if ov.cp else cp
    ep = stages(_ep(prep, plan, spec))
    p2p = _p2p(prep, plan, seq)
    rerun_slot = {Recompute.NONE: 0.0, Recompute.SELECTIVE: st.recompute_selective_s,
                  Recompute.FULL: st.recompute_full_s}[plan.recompute]
    dp, dp_exposed, z3, z3_exposed = _dp(prep, plan, params, st.fwd_s,
                                         st.bwd_s + rerun_slot, stages(st.fwd_s),
                                         stages(st.bwd_s))
    return PlanComm(tp_s=tp, tp_exposed_s=tp_exposed, cp_s=cp, cp_exposed_s=cp_exposed,
                    ep_s=ep, zero3_s=z3, zero3_exposed_s=z3_exposed, p2p_s=p2p,
                    p2p_exposed_s=0.0 if ov.p2p else p2p, dp_step_s=dp,
                    dp_step_exposed_s=dp_exposed)
