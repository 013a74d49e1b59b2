"""`mla_absorb`: multi-head latent attention (DeepSeek-V2/V3, Kimi K2, GLM-5) as serving
engines run it when attending over a cache.

The Hugging Face code caches the compressed latent c (kv_lora_rank values per token, plus the
decoupled rotary key k_r of qk_rope_head_dim values) and, every step, re-expands the whole cache
through `kv_b_proj` into per-head keys and values: for L cached tokens and H heads that is
2 x L x r x H x (d_nope + d_v) FLOPs and H x L x (d_nope + d_rope + d_v) values written per
sequence and layer, so a decode step costs what full multi-head attention over L tokens costs.

vLLM, SGLang and TensorRT-LLM absorb the up-projections instead (DeepSeek-V2 paper, section
2.1.2; vLLM `MLACommonImpl`, "absorbed" decode path; FlashMLA): `kv_b_proj`'s weight W is split
per head into W_UK (d_nope x r) and W_UV (r x d_v), and for each decode step

    q_latent = q_nope @ W_UK          per head: (B x d_nope) @ (d_nope x r)
    o_latent = attention(q = [q_latent, q_rope], k = [c, k_r], v = c)
                                       one latent "KV head" shared by all H query heads,
                                       key width r + d_rope, value width r
    o        = o_latent @ W_UV        per head: (B x r) @ (r x d_v), then o_proj as before

so the cache is read once, as it is stored (B x L x (r + d_rope) values per layer), and no
per-head key or value is ever written. Prefill (no cache before the step) keeps the expanded
form, as the engines do: there the up-projection of the prompt's own latents is cheaper than
attending at width r + d_rope. This pass applies to decode steps (a cache of `context` tokens
before the step); with `flash_attention` off the expanded math is priced instead.
"""

from __future__ import annotations

from hwspecs.dtypes import DType
from workloads.op import Op, OpKind, Tensor, TensorRole
from workloads.ops.attention import attention_attrs, flops_of
from workloads.ops.work import nbytes


def _reads_cache(op: Op) -> bool:
    return op.read_bytes.get(TensorRole.KV_CACHE, 0.0) > 0


def _by_role(tensors) -> dict[TensorRole, float]:
    out: dict[TensorRole, float] = {}
    for t in tensors:
        out[t.role] = out.get(t.role, 0.0) + nbytes(t)
    return out


def _op(name: str, kind: OpKind, ins: tuple[Tensor, ...], outs: tuple[Tensor, ...],
        flops: float, like: Op, attrs: dict) -> Op:
    return Op(name, kind, ins, outs, flops, _by_role(ins), _by_role(outs), like.compute_dtype,
              like.module, like.layer, like.pass_, attrs)


def _head_gemm(name: str, x: Tensor, w: Tensor, out: Tensor, rows: int, n: int, k: int,
               heads: int, like: Op) -> Op:
    """A per-head batched GEMM (`heads_split`: tensor parallelism splits its heads)."""
    return _op(name, OpKind.GEMM, (x, w), (out,), 2.0 * heads * rows * n * k, like,
               {"m": rows, "n": n, "k": k, "batch": heads, "heads_split": True})


def absorbed_ops(proj: Op, attn: Op) -> list[Op] | None:
    """The three kernels that replace the latent's up-projection `proj` (kv_b_proj over the
    cache), the key copies after it and the attention `attn`; None where the shapes are not
    those of MLA (left expanded)."""
    a = attn.attrs
    heads, batch, q_len = int(a["heads"]), int(a["batch"]), int(a["q_len"])
    d_v, head_dim, kv_len = int(a["v_head_dim"]), int(a["head_dim"]), int(a["kv_len"])
    rank, n = int(proj.attrs.get("k", 0)), int(proj.attrs.get("n", 0))
    if heads <= 0 or n % heads:
        return None
    d_nope = n // heads - d_v
    d_rope = head_dim - d_nope
    if d_nope <= 0 or d_rope < 0 or rank <= 0:
        return None
    dt: DType = attn.compute_dtype
    rows = batch * q_len
    q_nope = Tensor((heads, rows, d_nope), dt)
    w_uk = Tensor((heads, d_nope, rank), dt, TensorRole.WEIGHT)
    q_latent = Tensor((heads, rows, rank), dt)
    uk = _head_gemm("mla_q_absorb", q_nope, w_uk, q_latent, rows, rank, d_nope, heads, proj)
    attrs = attention_attrs(batch=batch, heads=heads, kv_heads=1, q_len=q_len, kv_len=kv_len,
                            head_dim=rank + d_rope, v_head_dim=rank, causal=bool(a["causal"]),
                            window=a.get("sliding_window"))
    q = Tensor((batch, heads, q_len, rank + d_rope), dt)
    # NB: the values are the first r columns of the cached latent: read once, with the keys.
    latent = Tensor((batch, 1, kv_len, rank + d_rope), dt, TensorRole.KV_CACHE)
    o_latent = Tensor((batch, heads, q_len, rank), dt)
    lse = Tensor((batch, heads, q_len), DType.FP32)
    core = _op("mla_attention", OpKind.ATTENTION, (q, latent), (o_latent, lse),
               flops_of(attrs, False), attn,
               {**attrs, "mla_absorbed": True, "kv_lora_rank": rank, "rope_dim": d_rope})
    w_uv = Tensor((heads, rank, d_v), dt, TensorRole.WEIGHT)
    out = Tensor((heads, rows, d_v), dt)
    uv = _head_gemm("mla_out_absorb", Tensor((heads, rows, rank), dt), w_uv, out, rows, d_v,
                    rank, heads, proj)
    return [uk, core, uv]


def mla_absorb(ops: tuple[Op, ...], graph) -> tuple[tuple[Op, ...], object]:
    """Every MLA layer of a decode step in the absorbed form (see the module doc), and the
    dependency graph over the new kernels."""
    out: list[Op] = []
    segments: list[tuple[int, int]] = []      # (up-projection, attention) replaced, old indices
    i, n = 0, len(ops)
    while i < n:
        op = ops[i]
        j = _attention_after(ops, i) if op.kind is OpKind.GEMM and \
            op.module.endswith(".kv_b_proj") and _reads_cache(op) else -1
        new = absorbed_ops(op, ops[j]) if j >= 0 else None
        if new is None:
            out.append(op)
            i += 1
            continue
        out.extend(new)
        segments.append((i, j))
        i = j + 1
    if not segments:
        return ops, graph
    return tuple(out), _graph(graph, n, tuple(segments))


def _attention_after(ops: tuple[Op, ...], i: int) -> int:
    """The attention kernel of the up-projection at i, past the copies that build the keys
    (-1 if anything else comes between)."""
    parent = ops[i].module.rpartition(".")[0]
    for j in range(i + 1, len(ops)):
        o = ops[j]
        if o.module != parent:
            return -1
        if o.kind is OpKind.ATTENTION:
            return j
        if o.kind not in (OpKind.COPY, OpKind.VIEW):
            return -1
    return -1


_GRAPHS: dict[tuple, tuple[object, object]] = {}


def _graph(graph, n: int, segments: tuple[tuple[int, int], ...]):
    """The graph over the absorbed kernels: each replaced run (up-projection .. attention)
    becomes a chain of three, every edge into the run entering its first two kernels and every
    edge out of it leaving the last (kept per source graph: re-shaped traces share it)."""
    key = (id(graph), n, segments)
    hit = _GRAPHS.get(key)
    if hit is not None and hit[0] is graph:
        return hit[1]
    import networkx as nx

    head, tail = list(range(n)), list(range(n))
    shift, s = 0, 0
    chains = []
    for old in range(n):
        if s < len(segments) and segments[s][0] <= old <= segments[s][1]:
            first, last = segments[s]
            p = first + shift
            head[old] = tail[old] = p + 1
            if old == first:
                head[old] = tail[old] = p
            if old == last:
                tail[old] = p + 2
                chains.append(p)
                shift += 3 - (last - first + 1)
                s += 1
            continue
        head[old] = tail[old] = old + shift
    g = nx.DiGraph()
    g.add_nodes_from(range(n + shift))
    g.add_edges_from((tail[u], head[v]) for u, v in graph.edges if tail[u] != head[v])
    for p in chains:
        g.add_edges_from(((p, p + 1), (p + 1, p + 2)))
    frozen = nx.freeze(g)
    _GRAPHS[key] = (graph, frozen)
    while len(_GRAPHS) > 8:
        _GRAPHS.pop(next(iter(_GRAPHS)))
    return frozen
