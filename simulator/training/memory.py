"""Memory per GPU of a training plan: parameters, gradients and optimizer states by ZeRO stage,
activations per micro-batch times the micro-batches in flight.

Mixed-precision AdamW: weights and gradients in the weight format, an fp32 master copy and two
fp32 moments per parameter (the master copy is counted with the optimizer states, which ZeRO-1
shards). ZeRO-1 shards the optimizer states over dp x cp, ZeRO-2 also the gradients, ZeRO-3 /
FSDP also the weights (plus the gathered units: the one in use and the prefetched ones, and
the unsharded gradients of the units being reduce-scattered).
"""

from __future__ import annotations

import numpy as np

from simulator.core.memory import ADAM_MOMENT_BYTES, MASTER_BYTES, Footprint, Recompute
from simulator.core.precision import Precision
from simulator.parallel.params import ParamSlots, stage_params_per_gpu
from simulator.parallel.pipeline import per_stage, stage_of_slot
from simulator.parallel.plan import Plan, Schedule
from simulator.training.slots import SlotTimes
from workloads.op import ModelFacts


def stage_in_flight(plan: Plan) -> np.ndarray:
    """Micro-batches whose activations each stage holds at its peak."""
    p, m = plan.pp, plan.micro_batches
    stages = np.arange(p)
    extra = (p - 1) / plan.vp if plan.pipeline_schedule is Schedule.INTERLEAVED else 0.0
    return np.minimum(float(m), (p - stages) + extra)


def activation_slots(st: SlotTimes, plan: Plan, facts: ModelFacts, seq: int,
                     saved_ratio: float, act_bytes: float) -> np.ndarray:
    """Activation bytes one micro-batch leaves on one GPU per slot, under the recompute policy.

    `saved_ratio` turns forward output bytes into what backward keeps (the traced workload's
    saved-activation bytes over its forward output bytes)."""
    kept = st.fwd_act_bytes * saved_ratio
    layers = slice(1, len(kept) - 1)
    if plan.recompute is Recompute.SELECTIVE:
        kept[layers] = st.fwd_matrix_act_bytes[layers] * saved_ratio
    elif plan.recompute is Recompute.FULL:
        tokens = plan.micro_batch * seq / plan.cp / (plan.tp if plan.sp else 1)
        kept[layers] = tokens * facts.hidden_size * act_bytes
        # NB: the embedding's output is the first layer's kept input; its own backward needs
        # only the token ids (dropout masks left out).
        kept[0] = 0.0
    return kept


def footprint(st: SlotTimes, params: ParamSlots, plan: Plan, facts: ModelFacts, seq: int,
              precision: Precision, capacity_bytes: float, saved_ratio: float
              ) -> tuple[Footprint, int]:
    """The footprint of the fullest stage, and which stage that is."""
    layers = facts.layers
    p_gpu = stage_params_per_gpu(params, layers, plan)
    shards = plan.dp_shards
    w_bytes = precision.weight_bytes_per_element()
    g_bytes = precision.weights.bytes
    master = MASTER_BYTES if precision.weights.bits < 32 else 0.0
    weights = p_gpu * w_bytes / (shards if plan.zero == 3 else 1)
    grads = p_gpu * g_bytes / (shards if plan.zero >= 2 else 1)
    if plan.zero == 3 and shards > 1:
        # The gathered units: the one computing and the `depth` prefetched behind it; in
        # backward the unsharded gradients of the unit computing and of the one whose
        # reduce-scatter is in flight.
        unit = (params.dense / plan.tp + params.expert / max(plan.tp, plan.ep)).max(initial=0.0)
        weights = weights + (1 + plan.overlap.zero_prefetch_layers) * unit * w_bytes
        grads = grads + 2 * unit * g_bytes
    optim = p_gpu * (master + ADAM_MOMENT_BYTES) / (shards if plan.zero >= 1 else 1)
    act = activation_slots(st, plan, facts, seq, saved_ratio, precision.activations.bytes)
    per_mb = per_stage(act, layers, plan.pp, plan.pp_layers)
    work = np.zeros(plan.pp)
    if plan.recompute is Recompute.FULL:
        # The layer being recomputed holds its full activations for a moment (one at a time).
        work = per_stage_max(st.fwd_act_bytes[1:-1] * saved_ratio, layers, plan.pp,
                             split=plan.pp_layers)
    transient = per_stage_max(st.transient_bytes, layers, plan.pp, with_ends=True,
                              split=plan.pp_layers)
    acts = per_mb * stage_in_flight(plan) + work + transient
    total = weights + grads + optim + acts
    s = int(np.argmax(total))
    return Footprint(weights_bytes=float(weights[s]), kv_cache_bytes=0.0,
                     activation_bytes=float(acts[s]), gradient_bytes=float(grads[s]),
                     optimizer_bytes=float(optim[s]), capacity_bytes=capacity_bytes), s


def per_stage_max(values: np.ndarray, layers: int, pp: int, with_ends: bool = False,
                  split: tuple[int, ...] | None = None) -> np.ndarray:
    """Largest value per stage (of layer slots only, unless `with_ends`)."""
    stage = stage_of_slot(layers, pp, split)
    if not with_ends:
        stage = stage[1:-1]
    out = np.zeros(pp)
    np.maximum.at(out, stage, values)
    return out
