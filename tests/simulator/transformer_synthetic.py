"""A hand-built, Llama-shaped lowered workload for plan tests (no torch, no tracing).

Module paths, layers, passes and GEMM attrs follow what the tracer and lowering produce for a
Hugging Face Llama (or Mixtral when `experts` > 0), so the sharding rules see the same names.
Every tensor is bf16 (2 bytes); FLOPs and bytes are the textbook counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from hwspecs.dtypes import DType
from workloads.op import ModelFacts, Op, OpKind, Pass, Phase, Tensor, TensorRole, Workload

E = 2.0          # bytes per bf16 element
BF16 = DType.BF16
A, W, G, S, KV = (TensorRole.ACTIVATION, TensorRole.WEIGHT, TensorRole.GRADIENT,
                  TensorRole.OPTIMIZER_STATE, TensorRole.KV_CACHE)


@dataclass(frozen=True)
class Arch:
    layers: int = 4
    hidden: int = 1024
    heads: int = 16
    kv_heads: int = 16
    ffn: int = 4096
    vocab: int = 32000
    experts: int = 0
    top_k: int = 0

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


def _op(name, kind, module, layer, pass_, flops, reads, writes, attrs=None, shapes=()):
    outs = tuple(Tensor(s, BF16) for s in shapes)
    return Op(name, kind, outs, outs, float(flops), reads, writes, BF16, module=module,
              layer=layer, pass_=pass_, attrs=attrs or {})


def _linear(module, layer, t, n_in, n_out):
    return _op("linear", OpKind.GEMM, module, layer, Pass.FORWARD, 2 * t * n_in * n_out,
               {A: t * n_in * E, W: n_in * n_out * E}, {A: t * n_out * E},
               {"m": t, "n": n_out, "k": n_in, "batch": 1, "in": n_in, "out": n_out})


def _pointwise(name, kind, module, layer, numel, flops_per=1.0, weight=0, shape=()):
    reads = {A: numel * E}
    if weight:
        reads[W] = weight * E
    return _op(name, kind, module, layer, Pass.FORWARD, flops_per * numel, reads,
               {A: numel * E}, shapes=shape)


def _grouped(module, layer, rows, n_in, n_out, groups):
    return _op("grouped_mm", OpKind.GROUPED_GEMM, module, layer, Pass.FORWARD,
               2 * rows * n_in * n_out, {A: rows * n_in * E, W: groups * n_in * n_out * E},
               {A: rows * n_out * E}, {"m": rows, "n": n_out, "k": n_in, "groups": groups,
                                       "active_groups": groups, "in": n_in, "out": n_out})


def _attention(arch, layer, batch, q_len, kv_len, cached):
    d, h, kv = arch.head_dim, arch.heads, arch.kv_heads
    causal = q_len > 1
    pairs = q_len * kv_len - (q_len * q_len / 2 if causal else 0)
    flops = 4 * batch * h * pairs * d
    q_bytes = batch * q_len * h * d * E
    kv_bytes = 2 * batch * kv_len * kv * d * E
    reads = {A: q_bytes}
    writes = {A: q_bytes}
    if cached:
        reads[KV] = kv_bytes
        writes[KV] = 2 * batch * q_len * kv * d * E
    else:
        reads[A] += kv_bytes
    return _op("attention", OpKind.ATTENTION, f"model.layers.{layer}.self_attn", layer,
               Pass.FORWARD, flops, reads, writes,
               {"batch": batch, "heads": h, "kv_heads": kv, "q_len": q_len, "kv_len": kv_len,
                "head_dim": d, "causal": causal})


def _layer(arch, li, batch, seq, context, cached):
    t, h, d = batch * seq, arch.hidden, arch.head_dim
    p = f"model.layers.{li}"
    ops = [_pointwise("rms_norm", OpKind.NORM, f"{p}.input_layernorm", li, t * h, 4, h),
           _linear(f"{p}.self_attn.q_proj", li, t, h, arch.heads * d),
           _linear(f"{p}.self_attn.k_proj", li, t, h, arch.kv_heads * d),
           _linear(f"{p}.self_attn.v_proj", li, t, h, arch.kv_heads * d),
           _pointwise("rope", OpKind.ELEMENTWISE, f"{p}.self_attn", li,
                      t * (arch.heads + arch.kv_heads) * d, 3),
           _attention(arch, li, batch, seq, context + seq, cached),
           _linear(f"{p}.self_attn.o_proj", li, t, arch.heads * d, h),
           _pointwise("add", OpKind.ELEMENTWISE, p, li, t * h),
           _pointwise("rms_norm", OpKind.NORM, f"{p}.post_attention_layernorm", li, t * h, 4, h)]
    if arch.experts:
        rows, e, f = t * arch.top_k, arch.experts, arch.ffn
        ops += [_linear(f"{p}.mlp.gate", li, t, h, e),
                _grouped(f"{p}.mlp.experts", li, rows, h, 2 * f, e),
                _pointwise("silu_mul", OpKind.ELEMENTWISE, f"{p}.mlp.experts", li, rows * f, 5),
                _grouped(f"{p}.mlp.experts", li, rows, f, h, e)]
    else:
        ops += [_linear(f"{p}.mlp.gate_proj", li, t, h, arch.ffn),
                _linear(f"{p}.mlp.up_proj", li, t, h, arch.ffn),
                _pointwise("silu", OpKind.ELEMENTWISE, f"{p}.mlp.act_fn", li, t * arch.ffn, 4),
                _pointwise("mul", OpKind.ELEMENTWISE, f"{p}.mlp", li, t * arch.ffn),
                _linear(f"{p}.mlp.down_proj", li, t, arch.ffn, h)]
    ops.append(_pointwise("add", OpKind.ELEMENTWISE, p, li, t * h))
    return ops


def _forward(arch, batch, seq, context, cached, loss):
    t, h = batch * seq, arch.hidden
    ops = [_op("embedding", OpKind.EMBEDDING, "model.embed_tokens", -1, Pass.FORWARD, 0,
               {W: t * h * E}, {A: t * h * E}, shapes=((arch.vocab, h),))]
    for layer in range(arch.layers):
        ops += _layer(arch, layer, batch, seq, context, cached)
    ops += [_pointwise("rms_norm", OpKind.NORM, "model.norm", -1, t * h, 4, h),
            _linear("lm_head", -1, t, h, arch.vocab)]
    if loss:
        ops.append(_pointwise("cross_entropy", OpKind.SOFTMAX, "", -1, t * arch.vocab, 5,
                              shape=((t, arch.vocab),)))
    return ops


def _backward(op: Op) -> list[Op]:
    f = op.attrs
    if op.kind in (OpKind.GEMM, OpKind.GROUPED_GEMM) and W in op.read_bytes:
        t, n_in, n_out = f["m"], f["in"], f["out"]
        extra = {k: f[k] for k in ("groups", "active_groups") if k in f}
        dx = _op("mm_dx", op.kind, op.module, op.layer, Pass.BACKWARD, op.flops,
                 {A: t * n_out * E, W: op.read_bytes[W]}, {A: t * n_in * E},
                 {"m": t, "n": n_in, "k": n_out, "batch": 1, **extra})
        dw = _op("mm_dw", op.kind, op.module, op.layer, Pass.BACKWARD, op.flops,
                 {A: t * (n_in + n_out) * E}, {G: op.read_bytes[W]},
                 {"m": n_out, "n": n_in, "k": t, "batch": 1, **extra})
        return [dx, dw]
    if op.kind is OpKind.EMBEDDING:
        table = op.outputs[0].numel * E       # the dense gradient of the whole table
        return [_op("embedding_bwd", OpKind.EMBEDDING, op.module, -1, Pass.BACKWARD, 0,
                    {A: op.write_bytes[A]}, {A: table}, shapes=op_shapes(op))]
    factor = 2.5 if op.kind is OpKind.ATTENTION else 2.0
    reads = {A: 2 * op.read_bytes[A]}
    writes = {A: op.read_bytes[A]}
    if W in op.read_bytes:                  # a norm's weight gradient
        reads[W], writes[G] = op.read_bytes[W], op.read_bytes[W]
    return [_op(op.name + "_bwd", op.kind, op.module, op.layer, Pass.BACKWARD,
                factor * op.flops, reads, writes, dict(op.attrs), shapes=op_shapes(op))]


def op_shapes(op: Op) -> tuple[tuple[int, ...], ...]:
    return tuple(t.shape for t in op.outputs)


def _params(arch) -> list[tuple[str, int, int]]:
    """(module, layer, elements) of every parameter tensor."""
    h, d = arch.hidden, arch.head_dim
    out = [("model.embed_tokens", -1, arch.vocab * h)]
    for li in range(arch.layers):
        p = f"model.layers.{li}"
        out += [(f"{p}.input_layernorm", li, h), (f"{p}.self_attn.q_proj", li, h * arch.heads * d),
                (f"{p}.self_attn.k_proj", li, h * arch.kv_heads * d),
                (f"{p}.self_attn.v_proj", li, h * arch.kv_heads * d),
                (f"{p}.self_attn.o_proj", li, h * arch.heads * d),
                (f"{p}.post_attention_layernorm", li, h)]
        if arch.experts:
            out += [(f"{p}.mlp.gate", li, h * arch.experts),
                    (f"{p}.mlp.experts", li, 3 * h * arch.ffn * arch.experts)]
        else:
            out += [(f"{p}.mlp.{n}", li, h * arch.ffn) for n in ("gate_proj", "up_proj",
                                                                 "down_proj")]
    return out + [("model.norm", -1, h), ("lm_head", -1, arch.vocab * h)]


def _optimizer(arch) -> list[Op]:
    return [_op("adamw", OpKind.OPTIMIZER, m, li, Pass.OPTIMIZER, 10 * n,
                {W: n * E, G: n * E, S: 8 * n}, {W: n * E, S: 8 * n})
            for m, li, n in _params(arch)]


def facts(arch: Arch) -> ModelFacts:
    params = sum(n for _, _, n in _params(arch))
    expert = 3 * arch.hidden * arch.ffn * arch.experts * arch.layers
    active = params - expert + (expert * arch.top_k // arch.experts if arch.experts else 0)
    return ModelFacts(name="synthetic-llama", architecture="LlamaForCausalLM", params=params,
                      active_params=active, layers=arch.layers, hidden_size=arch.hidden,
                      heads=arch.heads, kv_heads=arch.kv_heads, head_dim=arch.head_dim,
                      vocab_size=arch.vocab, experts=arch.experts,
                      experts_per_token=arch.top_k,
                      kv_bytes_per_token=arch.layers * 2 * arch.kv_heads * arch.head_dim * E,
                      embedding_params=2 * arch.vocab * arch.hidden)


def _workload(arch, phase, batch, seq, context, ops, **extra) -> Workload:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(ops)))
    graph.add_edges_from((i, i + 1) for i in range(len(ops) - 1))
    return Workload(model=facts(arch), phase=phase, batch=batch, seq=seq, context=context,
                    dtype=BF16, ops=tuple(ops), graph=graph, **extra)


def train(arch: Arch, batch: int = 1, seq: int = 2048) -> Workload:
    fwd = _forward(arch, batch, seq, 0, cached=False, loss=True)
    bwd = [b for op in reversed(fwd) for b in _backward(op)]
    saved = sum(op.write_bytes.get(A, 0.0) for op in fwd)
    return _workload(arch, Phase.TRAIN, batch, seq, 0, fwd + bwd + _optimizer(arch),
                     saved_activation_bytes=saved)


def prefill(arch: Arch, batch: int = 1, seq: int = 512) -> Workload:
    ops = _forward(arch, batch, seq, 0, cached=True, loss=False)
    return _workload(arch, Phase.PREFILL, batch, seq, 0, ops,
                     kv_cache_bytes=batch * seq * facts(arch).kv_bytes_per_token)


def decode(arch: Arch, batch: int = 1, context: int = 512) -> Workload:
    ops = _forward(arch, batch, 1, context, cached=True, loss=False)
    return _workload(arch, Phase.DECODE, batch, 1, context, ops,
                     kv_cache_bytes=batch * (context + 1) * facts(arch).kv_bytes_per_token)

