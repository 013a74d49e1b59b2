"""Parameters per pipeline slot and per GPU of a plan, from the model facts (no trace needed):
what training memory, inference memory and the data-parallel collectives all count."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.parallel.pipeline import per_stage
from simulator.parallel.plan import Plan
from workloads.op import ModelFacts


@dataclass(frozen=True)
class ParamSlots:
    """Parameters per slot (before, each layer, after), dense and routed-expert, unsharded."""

    dense: np.ndarray
    expert: np.ndarray
    tied: bool            # input and output embeddings share one matrix


@lru_cache(maxsize=256)
def param_slots(facts: ModelFacts) -> ParamSlots:
    """From the model facts: embeddings at the ends, the rest spread evenly over the layers.
    (A pure function of the facts: built once per model.)"""
    layers = max(facts.layers, 1)
    table = facts.vocab_size * facts.hidden_size
    emb = facts.embedding_params
    tied = 0 < emb < 1.5 * table
    pre, post = (emb, emb) if tied else (emb / 2, emb / 2)
    routed = 0.0
    if facts.experts > facts.experts_per_token > 0:
        routed = (facts.params - facts.active_params) * facts.experts \
            / (facts.experts - facts.experts_per_token)
    # NB: position embeddings and the final norm are spread over the layers with the rest.
    body = (facts.params - emb - routed) / layers
    dense = np.concatenate(([pre], np.full(layers, body), [post]))
    expert = np.concatenate(([0.0], np.full(layers, routed / layers), [0.0]))
    return ParamSlots(dense=dense, expert=expert, tied=tied)


def stage_params_per_gpu(p: ParamSlots, layers: int, plan: Plan) -> np.ndarray:
    """Parameters one GPU of each stage holds before ZeRO sharding.

    A tied embedding lives on the first stage and, when pp > 1, a copy on the last one (as in
    Megatron-LM); with one stage it is held once."""
    dense = p.dense.copy()
    if p.tied and plan.pp == 1:
        dense[-1] = 0.0
    # NB: norm weights are split by tp with the rest (they are replicated in reality, and tiny).
    split = plan.pp_layers
    # Dense weights are split by the attention TP group (whole in each attention-DP group);
    # the routed experts by every GPU of their EP group.
    return per_stage(dense, layers, plan.pp, split) / plan.tp \
        + per_stage(p.expert, layers, plan.pp, split) / max(plan.stage_gpus, plan.ep)


@lru_cache(maxsize=1024)
def max_stage_params(facts: ModelFacts, tp: int, pp: int, ep: int, attn_dp: int = 1,
                     pp_layers: tuple[int, ...] | None = None) -> float:
    """Parameters one GPU of the fullest pipeline stage holds (before ZeRO), per model and
    split: what inference keeps in memory."""
    return float(stage_params_per_gpu(param_slots(facts), facts.layers,
                                      Plan(tp=tp, pp=pp, ep=ep, attn_dp=attn_dp,
                                           pp_layers=pp_layers)).max())
