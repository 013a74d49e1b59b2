"""Running one model step on fake tensors while the recorder listens: train, prefill, decode.

A `PhaseRunner` takes a model built on meta, keeps only the chosen layers of its stack (the
layer plan decides which), swaps the parameters of what runs for fake CPU tensors, runs the
phase and returns the recorded aten ops, with the module paths and layer indices of the full
model. The model is put back as it was afterwards, so one meta build serves many traces.

Imports torch and transformers at module level: only the tracer imports this module.
"""

from __future__ import annotations

import inspect
from contextlib import ExitStack, contextmanager

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from workloads.op import Pass, Phase, TensorRole
from workloads.raw import RawOp
from workloads.trace.model_build import BuiltModel
from workloads.trace.record import FunctionTap, ModuleContext, OpRecorder

_LR = 1e-4  # NB: AdamW hyper-parameters change no shape or op; these are placeholders.
_BETAS, _WEIGHT_DECAY, _EPS = (0.9, 0.999), 0.01, 1e-8      # torch.optim.AdamW's defaults


class PhaseRunner:
    """Runs steps of a meta-built model through a few of its layers on fake tensors.

    The parameters of the modules that run are made fake once (under one FakeTensorMode kept
    for the runner's life) and swapped in for each step; the meta ones come back afterwards.
    """

    def __init__(self, built: BuiltModel, layers: list[int]):
        self.built = built
        self.layers = list(layers)
        self.fake_mode = FakeTensorMode(allow_non_fake_inputs=False)
        self.names = _module_names(built, self.layers)
        keep = set(self.names)
        with self.fake_mode:
            self.fake = _fake_tensors([m for m in built.model.modules() if m in keep])

    def run(self, phase: Phase, batch: int, seq: int, context: int) -> tuple[RawOp, ...]:
        """Record one step of `phase` (module paths and layers of the full model)."""
        built = self.built
        modules = ModuleContext(layer_prefix=built.stack_path)
        recorder = OpRecorder(modules)
        with ExitStack() as stack:
            for h in modules.install(self.names):
                stack.callback(h.remove)
            stack.enter_context(self._swapped())
            stack.enter_context(_only_layers(built, self.layers))
            stack.enter_context(self.fake_mode)
            recorder.param_modules = {
                id(p): f"{self.names[m]}.{k}".lstrip(".").rpartition(".")[0]
                for m in self.names for k, p in m._parameters.items() if p is not None}
            recorder.mark(built.model.parameters(), TensorRole.WEIGHT)
            # NB: float buffers (rotary inv_freq) are model state: tiny, read like weights.
            recorder.mark([b for b in built.model.buffers() if b.is_floating_point()],
                          TensorRole.WEIGHT)
            torch.manual_seed(0)
            if phase is Phase.TRAIN:
                _train(built, recorder, batch, seq)
            else:
                _infer(built, recorder, phase, batch, seq, context)
        return recorder.finish()

    @contextmanager
    def _swapped(self):
        saved = [(m, dict(m._parameters), dict(m._buffers)) for m in self.fake]
        was_training = self.built.model.training
        try:
            for m, (params, buffers) in self.fake.items():
                m._parameters.update(params)
                m._buffers.update(buffers)
            yield
        finally:
            for m, params, buffers in saved:
                for p in self.fake[m][0].values():
                    p.grad = None
                m._parameters.update(params)
                m._buffers.update(buffers)
            self.built.model.train(was_training)


def _module_names(built: BuiltModel, layers: list[int]) -> dict[torch.nn.Module, str]:
    """Full-model paths of the modules a run with only `layers` of the stack touches."""
    skipped = {id(m) for i, layer in enumerate(built.stack) if i not in layers
               for m in layer.modules()}
    return {m: name for name, m in built.model.named_modules() if id(m) not in skipped}


def _fake_tensors(mods: list[torch.nn.Module]) -> dict:
    """Fake CPU twins of each module's own parameters and buffers; tied ones stay tied."""
    made: dict[int, torch.Tensor] = {}
    out = {}
    for m in mods:
        params = {k: made.setdefault(id(p), torch.nn.Parameter(
            _empty_like(p), requires_grad=p.requires_grad))
            for k, p in m._parameters.items() if p is not None}
        buffers = {k: made.setdefault(id(b), _empty_like(b))
                   for k, b in m._buffers.items() if b is not None}
        out[m] = (params, buffers)
    return out


def _empty_like(t: torch.Tensor) -> torch.Tensor:
    return torch.empty(tuple(t.shape), dtype=t.dtype, device="cpu")


@contextmanager
def _only_layers(built: BuiltModel, layers: list[int]):
    parent_path, _, attr = built.stack_path.rpartition(".")
    parent = built.model.get_submodule(parent_path)
    full = built.stack
    setattr(parent, attr, torch.nn.ModuleList([full[i] for i in layers]))
    try:
        yield
    finally:
        setattr(parent, attr, full)


def _ids(built: BuiltModel, batch: int, seq: int) -> torch.Tensor:
    vocab = int(getattr(built.config, "vocab_size", 2))
    return torch.randint(0, vocab, (batch, seq))


def _infer(built: BuiltModel, rec: OpRecorder, phase: Phase, batch: int, seq: int,
           context: int) -> None:
    built.model.eval()
    kwargs = {}
    if built.causal:
        from transformers import DynamicCache

        # NB: always pass a cache: prefill without one calls `.item()` on fake tensors.
        cache = DynamicCache(config=built.config)
        kwargs.update(_cache_kwarg(built.model, cache), use_cache=True)
        if _accepts(built.model, "logits_to_keep"):
            # NB: serving computes logits for the last position only, as `generate` does.
            kwargs["logits_to_keep"] = 1
        if phase is Phase.DECODE and context > 0:
            with torch.no_grad():
                built.model(input_ids=_ids(built, batch, context), **kwargs)
            for layer in cache.layers:
                if getattr(layer, "is_initialized", False):
                    rec.mark([layer.keys, layer.values], TensorRole.KV_CACHE)
        _watch_cache(cache, rec)
    ids = _ids(built, batch, seq)
    with torch.no_grad(), rec, FunctionTap(rec, built.causal, tag_nodes=False):
        built.model(input_ids=ids, **kwargs)


def _train(built: BuiltModel, rec: OpRecorder, batch: int, seq: int) -> None:
    model = built.model
    model.train()
    ids = _ids(built, batch, seq)
    if built.causal:
        labels = ids
        extra = {"use_cache": False}
    else:
        labels = torch.randint(0, int(getattr(built.config, "num_labels", 2)), (batch,))
        extra = {}
    with rec, FunctionTap(rec, built.causal, tag_nodes=True):
        loss = model(input_ids=ids, labels=labels, **extra).loss
        rec.pass_ = Pass.BACKWARD
        loss.backward()
    params = [p for p in model.parameters() if p.grad is not None]
    rec.mark([p.grad for p in params], TensorRole.GRADIENT)
    _optimizer_step(rec, params)


def _optimizer_step(rec: OpRecorder, params: list[torch.nn.Parameter]) -> None:
    """One fused AdamW step per parameter tensor, each tagged with its module and layer.

    The ops `torch.optim.AdamW(fused=True)` dispatches for one parameter (the step counter's
    `_foreach_add_`, then `_fused_adamw_`), called directly: the optimizer object's own Python
    (its state set-up step, parameter grouping) costs a fifth of a training trace and runs no
    op. The state is what AdamW's first step makes: a scalar fp32 step and two moments.

    NB: states and update at the traced dtype; fp32 master weights of mixed precision are the
    memory model's to add.
    """
    states = []
    for p in params:
        step = torch.zeros((), dtype=torch.float32, device=p.device)
        exp_avg = torch.zeros_like(p, memory_format=torch.preserve_format)
        exp_avg_sq = torch.zeros_like(p, memory_format=torch.preserve_format)
        states.append((step, exp_avg, exp_avg_sq))
    for state in states:            # in AdamW's order: step, exp_avg, exp_avg_sq
        rec.mark(state, TensorRole.OPTIMIZER_STATE)
    rec.pass_ = Pass.OPTIMIZER
    with rec, torch.no_grad():
        for p, (step, exp_avg, exp_avg_sq) in zip(params, states, strict=True):
            rec.modules.stack.append(rec.param_modules[id(p)])
            torch._foreach_add_([step], 1)
            torch._fused_adamw_([p], [p.grad], [exp_avg], [exp_avg_sq], [], [step],
                                amsgrad=False, lr=_LR, beta1=_BETAS[0], beta2=_BETAS[1],
                                weight_decay=_WEIGHT_DECAY, eps=_EPS, maximize=False,
                                grad_scale=None, found_inf=None)
            rec.modules.stack.pop()


def _watch_cache(cache, rec: OpRecorder) -> None:
    """Mark what a cache update writes as KV cache, and the ops inside it as cache updates."""
    update = cache.update

    def recorded_update(*args, **kwargs):
        rec.in_cache_update = True
        try:
            return update(*args, **kwargs)
        finally:
            rec.in_cache_update = False

    cache.update = recorded_update


def _accepts(model: torch.nn.Module, name: str) -> bool:
    return name in inspect.signature(model.forward).parameters


def _cache_kwarg(model: torch.nn.Module, cache) -> dict:
    name = "cache" if _accepts(model, "cache") else "past_key_values"
    return {name: cache}
