"""Parallel plans: how a model step is spread over GPUs, and whether it can be at all.

A plan multiplies out to the GPUs it uses: tp x attn_dp x cp x dp x pp (expert parallelism
reuses the ranks of a stage; see `check_plan`). Ranks are ordered as in Megatron-LM: TP
innermost (stride 1, inside a node), then attention DP, CP, DP, and PP outermost. A plan that
cannot work raises `ValueError` with the reason, in one sentence.

Inference plans may run attention data-parallel (`attn_dp`: SGLang's --enable-dp-attention,
TensorRT-LLM's enable_attention_dp, aiconfigurator's attention_dp_size): one replica is
attn_dp groups of tp GPUs, each group attending over its own share of the replica's sequences
with the whole attention weights, while the routed experts are shared by all of the replica's
GPUs through expert parallelism (ep of them, each expert split tp x attn_dp / ep ways), the
tokens dispatched to their experts' ranks and combined back by all-to-all.

Pipeline stages need not be equal: `pp_layers` gives the layers of each stage (first to last);
by default they are as even as possible (`simulator.parallel.pipeline.stage_layers`).

Overlap options say which communication hides behind which compute; what does not hide is
reported as exposed communication, separately from compute.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from hwspecs.errors import ArchsimError
from simulator.core.memory import Recompute
from workloads.op import ModelFacts


class PlanError(ArchsimError):
    """An impossible plan; `kind` names the rule it breaks (for the planner's tally)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Schedule(enum.Enum):
    ONE_F_ONE_B = "1f1b"            # PipeDream-flush: bubble (p-1)/(m+p-1)
    INTERLEAVED = "interleaved"     # vp model chunks per stage: bubble (p-1)/(v*m+p-1)

    @classmethod
    def parse(cls, name: str) -> Schedule:
        try:
            return cls(str(name).strip().lower())
        except ValueError:
            raise ValueError(f"unknown pipeline schedule {name!r}; use 1f1b or "
                             "interleaved") from None


@dataclass(frozen=True)
class Overlap:
    """Which communication runs behind compute (each option documented where it is used).

    dp: the data-parallel gradient reduction of a bucket starts as soon as backward has
        produced it and hides behind the rest of the last micro-batch's backward; ZeRO-1/2's
        parameter all-gather hides behind the next step's first forward (Megatron's
        --overlap-grad-reduce / --overlap-param-gather, PyTorch DDP buckets).
    zero_prefetch: ZeRO-3 / FSDP gathers the next layers' parameters while this layer
        computes, and reduce-scatters each layer's gradients behind the backward of the layers
        after it; what a layer's compute cannot cover stays exposed (`training.zero3`).
    zero_prefetch_layers: how many layers ahead ZeRO-3 / FSDP gathers (1: FSDP's
        BACKWARD_PRE and forward_prefetch, one unit ahead); each is one more gathered layer
        held in memory.
    tp: tensor-parallel collectives overlap with the GEMMs next to them (userbuffers /
        async TP); off by default, as in most stacks.
    cp: ring attention passes the next K/V chunk while attending to the current one.
    p2p: pipeline sends and receives overlap with compute; off by default (Megatron's 1F1B
        waits on them in the steady state).
    p2p_scatter_gather: each TP rank sends only its 1/tp slice of a stage's boundary
        activations across stages, and the next stage all-gathers them over its TP group
        (Megatron-LM's default since 2021; sequence parallelism slices them anyway).
    """

    dp: bool = True
    zero_prefetch: bool = True
    zero_prefetch_layers: int = 1
    tp: bool = False
    cp: bool = True
    p2p: bool = False
    p2p_scatter_gather: bool = True

    def __post_init__(self) -> None:
        depth = self.zero_prefetch_layers
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"zero_prefetch_layers must be a whole number >= 1, not {depth!r}")


@dataclass(frozen=True)
class Plan:
    """A parallel plan. `zero` is the ZeRO stage (3 is FSDP's FULL_SHARD)."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    cp: int = 1
    ep: int = 1
    sp: bool = False
    vp: int = 1
    zero: int = 0
    micro_batch: int = 1
    global_batch: int | None = None     # None: one micro-batch per DP rank
    recompute: Recompute = Recompute.NONE
    schedule: Schedule | None = None    # None: interleaved when vp > 1, else 1f1b
    expert_imbalance: float = 1.0       # busiest expert rank's tokens / the mean
    overlap: Overlap = field(default_factory=Overlap)
    attn_dp: int = 1                    # inference: attention data-parallel groups of tp GPUs
    pp_layers: tuple[int, ...] | None = None   # layers per pipeline stage; None: even split

    def __post_init__(self) -> None:
        if self.pp_layers is not None:
            layers = tuple(self.pp_layers)
            if not layers or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                 for n in layers):
                raise ValueError(f"pp_layers must list one whole number of at least 1 layer "
                                 f"per pipeline stage, not {self.pp_layers!r}")
            if len(layers) != self.pp:
                raise ValueError(f"pp_layers lists {len(layers)} stages but pp={self.pp}")
            object.__setattr__(self, "pp_layers", layers)
        for name in ("tp", "pp", "dp", "cp", "ep", "vp", "micro_batch", "attn_dp"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
        if self.zero not in (0, 1, 2, 3):
            raise ValueError(f"zero must be a ZeRO stage 0, 1, 2 or 3, not {self.zero!r}")
        if self.global_batch is not None and (not isinstance(self.global_batch, int)
                                              or self.global_batch < 1):
            raise ValueError(f"global_batch must be a whole number of at least 1, not "
                             f"{self.global_batch!r}")
        if not self.expert_imbalance >= 1.0:
            raise ValueError(f"expert_imbalance must be at least 1 (a perfectly balanced "
                             f"router), not {self.expert_imbalance!r}")
        if self.schedule is Schedule.ONE_F_ONE_B and self.vp > 1:
            raise ValueError(f"vp={self.vp} virtual stages need the interleaved schedule, "
                             "not 1f1b")

    @property
    def gpus(self) -> int:
        return self.tp * self.attn_dp * self.cp * self.dp * self.pp

    @property
    def stage_gpus(self) -> int:
        """GPUs of one replica's pipeline stage (the attention groups together)."""
        return self.tp * self.attn_dp

    @property
    def batch(self) -> int:
        """Sequences per optimizer step over all DP ranks."""
        return self.global_batch if self.global_batch is not None \
            else self.micro_batch * self.dp

    @property
    def micro_batches(self) -> int:
        """Micro-batches each pipeline runs per step (m)."""
        return self.batch // (self.micro_batch * self.dp)

    @property
    def pipeline_schedule(self) -> Schedule:
        if self.schedule is not None:
            return self.schedule
        return Schedule.INTERLEAVED if self.vp > 1 else Schedule.ONE_F_ONE_B

    @property
    def dp_shards(self) -> int:
        """Ranks a ZeRO stage shards over: DP times CP (CP ranks hold the same weights)."""
        return self.dp * self.cp

    @property
    def ep_across_dp(self) -> int:
        """EP ranks beyond one replica's stage (1 when the experts are spread inside it)."""
        return max(1, self.ep // self.stage_gpus)

    @property
    def dispatches(self) -> bool:
        """Whether MoE tokens cross GPUs by all-to-all: the EP group spans GPUs that hold
        different tokens (attention-DP groups, or DP ranks). Inside one TP group the tokens are
        on every rank already and the block's TP all-reduce combines the experts."""
        return self.attn_dp > 1 or self.ep > self.tp

    def label(self) -> str:
        parts = [f"tp{self.tp}", f"pp{self.pp}", f"dp{self.dp}"]
        parts += [f"cp{self.cp}"] if self.cp > 1 else []
        parts += [f"ep{self.ep}"] if self.ep > 1 else []
        parts += [f"adp{self.attn_dp}"] if self.attn_dp > 1 else []
        parts += [self._layers_label()] if self.pp_layers is not None else []
        parts += ["sp"] if self.sp else []
        parts += [f"vp{self.vp}"] if self.vp > 1 else []
        parts += [f"zero{self.zero}", f"mb{self.micro_batch}"]
        parts += [f"rc-{self.recompute.value}"] if self.recompute is not Recompute.NONE else []
        return " ".join(parts)

    def serving_label(self) -> str:
        """The label of an inference plan (no ZeRO, micro-batches or recompute)."""
        parts = [f"tp{self.tp}", f"pp{self.pp}"] + ([f"dp{self.dp}"] if self.dp > 1 else [])
        parts += [f"ep{self.ep}"] if self.ep > 1 else []
        parts += [f"adp{self.attn_dp}"] if self.attn_dp > 1 else []
        return " ".join(parts + ([self._layers_label()] if self.pp_layers is not None else []))

    def _layers_label(self) -> str:
        return "layers " + ",".join(str(n) for n in self.pp_layers or ())

    def as_dict(self) -> dict:
        return {"tp": self.tp, "pp": self.pp, "dp": self.dp, "cp": self.cp, "ep": self.ep,
                "sp": self.sp, "vp": self.vp, "zero": self.zero,
                "micro_batch": self.micro_batch, "global_batch": self.batch,
                "micro_batches": self.micro_batches, "recompute": self.recompute.value,
                "schedule": self.pipeline_schedule.value, "gpus": self.gpus,
                "expert_imbalance": self.expert_imbalance, "attn_dp": self.attn_dp,
                "pp_layers": list(self.pp_layers) if self.pp_layers is not None else None}

    def with_(self, **changes) -> Plan:
        return replace(self, **changes)


def check_plan(plan: Plan, model: ModelFacts, num_devices: int, seq: int,
               training: bool = True) -> None:
    """Raise `PlanError` naming the first reason `plan` cannot run this model on the system."""
    if plan.gpus > num_devices:
        what = "tp x attn_dp x dp x pp" if plan.attn_dp > 1 else "tp x cp x dp x pp"
        raise PlanError("gpus", f"plan {plan.label()} needs {plan.gpus} GPUs ({what}); the "
                        f"system has {num_devices}")
    _check_tp(plan, model)
    _check_pp(plan, model, training)
    _check_cp(plan, seq)
    _check_ep(plan, model)
    if training:
        if plan.attn_dp > 1:
            raise PlanError("attn_dp", "attention data parallelism is an inference plan; a "
                            "training plan's dp already gives each rank its own batch")
        _check_batch(plan)
    elif plan.zero or plan.cp > 1 or plan.vp > 1:
        raise PlanError("inference", "inference plans take tp, pp, dp and ep only (no ZeRO, "
                        "CP or virtual stages)")


def _check_tp(plan: Plan, model: ModelFacts) -> None:
    tp = plan.tp
    if model.heads % tp:
        raise PlanError("heads", f"tp={tp} does not divide the {model.heads} attention heads "
                        f"of {model.name}")
    kv = model.kv_heads
    if kv and kv % tp and tp % kv:
        raise PlanError("kv_heads", f"tp={tp} and the {kv} KV heads of {model.name} do not "
                        "nest (one must divide the other, so each rank holds whole KV heads)")
    if plan.sp and tp == 1:
        raise PlanError("sp", "sequence parallelism splits the sequence over the TP group; "
                        "it needs tp > 1")


def _check_pp(plan: Plan, model: ModelFacts, training: bool) -> None:
    pp, vp, layers = plan.pp, plan.vp, model.layers
    if pp > layers:
        raise PlanError("layers", f"pp={pp} is more pipeline stages than the {layers} layers "
                        f"of {model.name}")
    if plan.pp_layers is not None and sum(plan.pp_layers) != layers:
        raise PlanError("layers", f"pp_layers {','.join(map(str, plan.pp_layers))} add up to "
                        f"{sum(plan.pp_layers)} layers; {model.name} has {layers}")
    if vp > 1 and plan.pp_layers is not None:
        raise PlanError("vp", "uneven pipeline stages (pp_layers) need the 1f1b schedule, "
                        "not virtual stages")
    if vp > 1 and layers % (pp * vp):
        raise PlanError("layers", f"pp x vp = {pp * vp} does not divide the {layers} layers "
                        f"of {model.name} (interleaved stages hold equal model chunks)")
    if vp > 1 and pp == 1:
        raise PlanError("vp", f"vp={vp} virtual stages need pipeline parallelism (pp > 1)")
    if training and vp > 1 and plan.micro_batches % pp:
        raise PlanError("micro_batches", f"the interleaved schedule needs the "
                        f"{plan.micro_batches} micro-batches per pipeline to be a multiple of "
                        f"pp={pp}")


def _check_cp(plan: Plan, seq: int) -> None:
    if seq % plan.cp:
        raise PlanError("sequence", f"cp={plan.cp} does not divide the sequence of {seq} "
                        "tokens")


def _check_ep(plan: Plan, model: ModelFacts) -> None:
    ep = plan.ep
    if ep == 1:
        return
    if not model.experts:
        raise PlanError("experts", f"ep={ep} needs a mixture-of-experts model; {model.name} "
                        "has no experts")
    if model.experts % ep:
        raise PlanError("experts", f"ep={ep} does not divide the {model.experts} experts of "
                        f"{model.name}")
    group = plan.stage_gpus
    what = f"tp={plan.tp}" if plan.attn_dp == 1 else \
        f"tp x attn_dp = {plan.tp} x {plan.attn_dp} = {group}"
    if ep % group and group % ep:
        raise PlanError("experts", f"ep={ep} and {what} do not nest (EP ranks are taken "
                        "from the TP group first, then from DP)")
    if ep > group and plan.dp_shards % (ep // group):
        raise PlanError("experts", f"ep={ep} spreads experts over {ep // group} DP ranks "
                        f"per TP rank, which does not divide dp x cp = {plan.dp_shards}")


def _check_batch(plan: Plan) -> None:
    per_step = plan.micro_batch * plan.dp
    if plan.batch % per_step:
        raise PlanError("batch", f"global batch {plan.batch} is not a multiple of micro-batch "
                        f"x dp = {plan.micro_batch} x {plan.dp} = {per_step}")
