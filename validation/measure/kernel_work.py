"""FLOPs and bytes of one benchmark case, counted by the tracer's own per-op formulas.

Each case is written as the aten ops it calls (`workloads.ops`, the registry the tracer
prices with), so the bench and the simulator count one way: GEMM 2·M·N·K per batch, attention
4·B·H·q·kv·d times the visible fraction of a causal mask, norms and softmax their per-element
counts. Bytes: a case runs as one fused kernel, so every input is read once and every output
written once, and what one op of the case makes and the next consumes never touches memory.
An embedding gathers its rows, not the table (as the `embedding_gather` lowering prices it).
Where torch runs a case as an eager chain of several kernels, the bench records the chain's
counted traffic instead (`validation.measure.eager_chain`). Imported measurements add a whole
MoE layer (its router and expert GEMMs, as `moe_layer_ops` writes them) and collectives
(the message read and written once per GPU, no FLOPs).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.dtypes import DType
from validation.measure.bench_shapes import Case
from workloads.op import Tensor
from workloads.ops import work_of as op_work
from workloads.raw import RawOp

# Eager torch launches per call (the simulator prices the fused chain as one kernel).
LAUNCHES = {"silu_mul": 2}


@dataclass(frozen=True)
class Work:
    flops: float
    read_bytes: float
    write_bytes: float
    launches: int


def work_of(case: Case) -> Work:
    """The FLOPs, bytes read and written, and kernel launches of one call of `case`."""
    build = _OPS.get(case.op)
    if build is None:
        raise ValueError(f"no FLOP/byte formula for benchmark op {case.op!r}")
    return _fused(build(case, DType.parse(case.dtype)), LAUNCHES.get(case.op, 1))


def _fused(ops: list[RawOp], launches: int) -> Work:
    """One kernel running `ops` in turn: inputs no op of it made are read, outputs no op of
    it consumes are written."""
    made = {i for op in ops for i in op.output_ids}
    used = {i for op in ops for i in op.input_ids}
    flops = read = write = 0.0
    for op in ops:
        w = op_work(op)
        flops += w.flops
        rows = w.attrs.get("rows")
        if rows is not None and "row_bytes" in w.attrs:      # a gather: the rows it picks
            read += rows * w.attrs["row_bytes"] + sum(w.in_bytes[1:])
        else:
            read += sum(b for i, b in zip(op.input_ids, w.in_bytes, strict=True)
                        if i not in made)
        write += sum(b for i, b in zip(op.output_ids, w.out_bytes, strict=True)
                     if i not in used)
    return Work(flops, read, write, launches)


class _Ids:
    """Tensor ids for one case's ops (the same id is the same tensor)."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, n: int) -> tuple[int, ...]:
        self.next += n
        return tuple(range(self.next - n, self.next))


def _op(target: str, inputs: list[Tensor], outputs: list[Tensor], input_ids, output_ids,
        attrs: dict | None = None) -> RawOp:
    return RawOp(target=target, inputs=tuple(inputs), outputs=tuple(outputs),
                 input_ids=tuple(input_ids), output_ids=tuple(output_ids), attrs=attrs or {})


def _one(target: str, inputs: list[Tensor], outputs: list[Tensor], attrs=None) -> list[RawOp]:
    ids = _Ids()
    return [_op(target, inputs, outputs, ids(len(inputs)), ids(len(outputs)), attrs)]


def _out(d: DType) -> DType:
    """What a matrix kernel writes: fp8 ones write bf16, as the engines' fp8 layers do."""
    return DType.BF16 if d.matrix_format is DType.FP8 else d


def _mm(c: Case, d: DType) -> list[RawOp]:
    if c.batch and c.batch > 1:
        return _one("aten.bmm.default", [Tensor((c.batch, c.m, c.k), d),
                                         Tensor((c.batch, c.k, c.n), d)],
                    [Tensor((c.batch, c.m, c.n), _out(d))])
    return _one("aten.mm.default", [Tensor((c.m, c.k), d), Tensor((c.k, c.n), d)],
                [Tensor((c.m, c.n), _out(d))])


def _grouped_mm(c: Case, d: DType) -> list[RawOp]:
    # NB: every group's weights are read, as when each group gets at least one row.
    return _one("aten._grouped_mm.default",
                [Tensor((c.m, c.k), d), Tensor((c.groups, c.k, c.n), d),
                 Tensor((c.groups,), DType.INT32)], [Tensor((c.m, c.n), d)])


def _sdpa(c: Case, d: DType) -> list[RawOp]:
    q = Tensor((c.batch, c.heads, c.q_len, c.head_dim), d)
    kv = Tensor((c.batch, c.kv_heads, c.kv_len, c.head_dim),
                DType.parse(c.kv_dtype) if c.kv_dtype else d)
    # NB: the call returns the output alone (a GPU kernel's log-sum-exp stays on chip); an fp8
    # attention writes bf16.
    return _one("aten._scaled_dot_product_efficient_attention.default", [q, kv, kv],
                [Tensor(q.shape, _out(d))],
                {"causal": bool(c.causal), "heads": c.heads, "kv_heads": c.kv_heads,
                 "q_len": c.q_len, "sliding_window": c.window})


def _rowwise(c: Case, d: DType) -> list[RawOp]:
    x = Tensor((c.rows, c.cols), d)
    params = {"rms_norm": 1, "layer_norm": 2}.get(c.op, 0)   # weight, bias
    target = {"rms_norm": "aten.rms_norm.default", "layer_norm": "aten.layer_norm.default",
              "softmax": "aten._softmax.default"}[c.op]
    return _one(target, [x] + [Tensor((c.cols,), d)] * params, [Tensor(x.shape, d)])


def _add(c: Case, d: DType) -> list[RawOp]:
    t = Tensor((c.numel,), d)
    return _one("aten.add.Tensor", [t, t], [t])


def _silu_mul(c: Case, d: DType) -> list[RawOp]:
    """silu(gate) * up, the gated MLP's product: two ops, one fused kernel."""
    t = Tensor((c.numel,), d)
    ids = _Ids()
    gate, up, act, out = ids(4)
    return [_op("aten.silu.default", [t], [t], [gate], [act]),
            _op("aten.mul.Tensor", [t, t], [t], [act, up], [out])]


def _embedding(c: Case, d: DType) -> list[RawOp]:
    return _one("aten.embedding.default",
                [Tensor((c.vocab, c.cols), d), Tensor((c.rows,), DType.INT64)],
                [Tensor((c.rows, c.cols), d)])


def _copy(c: Case, d: DType) -> list[RawOp]:
    return _one("aten.clone.default", [Tensor((c.numel,), d)], [Tensor((c.numel,), d)])


def moe_layer_ops(c: Case, d: DType, rows_per_rank: float) -> list[RawOp]:
    """One GPU's share of a MoE layer of `c.tokens` tokens: the router GEMM, then the gated
    experts' up (gate and up, 2 x inter / moe_tp wide) and down grouped GEMMs over the
    `rows_per_rank` token-expert rows routed to this GPU's `experts / moe_ep` experts.

    NB: routing bookkeeping (top-k, softmax, permute, combine) moves tokens x hidden and does
    no matrix work; it is counted as the activations the GEMMs read and write."""
    ids = _Ids()
    local = max(c.experts // (c.moe_ep or 1), 1)
    inter = max(c.inter // (c.moe_tp or 1), 1)
    rows = max(int(round(rows_per_rank)), 1)
    x, scores, xin, h, act, y = ids(6)
    w_router, w_up, w_down, offs = ids(4)
    t = Tensor((c.tokens, c.hidden), DType.BF16)
    return [
        _op("aten.mm.default", [t, Tensor((c.hidden, c.experts), DType.BF16)],
            [Tensor((c.tokens, c.experts), DType.BF16)], [x, w_router], [scores]),
        _op("aten._grouped_mm.default",
            [Tensor((rows, c.hidden), d), Tensor((local, c.hidden, 2 * inter), d),
             Tensor((local,), DType.INT32)], [Tensor((rows, 2 * inter), _out(d))],
            [xin, w_up, offs], [h]),
        _op("aten._grouped_mm.default",
            [Tensor((rows, inter), d), Tensor((local, inter, c.hidden), d),
             Tensor((local,), DType.INT32)], [Tensor((rows, c.hidden), _out(d))],
            [act, w_down, offs], [y]),
    ]


def _moe(c: Case, d: DType) -> list[RawOp]:
    return moe_layer_ops(c, d, c.tokens * c.topk / (c.moe_ep or 1))


def _collective(c: Case, d: DType) -> list[RawOp]:
    t = Tensor((c.message_bytes,), DType.INT8)
    return _one("aten.clone.default", [t], [t])   # the message once in, once out, no FLOPs


_OPS = {
    "mm": _mm, "bmm": _mm, "grouped_mm": _grouped_mm,
    "sdpa_prefill": _sdpa, "sdpa_decode": _sdpa,
    "rms_norm": _rowwise, "layer_norm": _rowwise, "softmax": _rowwise,
    "add": _add, "silu_mul": _silu_mul, "embedding": _embedding, "copy": _copy,
    "moe_layer": _moe, "all_reduce": _collective, "all_gather": _collective,
    "reduce_scatter": _collective, "all_to_all": _collective,
}
