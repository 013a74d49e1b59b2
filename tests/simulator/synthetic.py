"""A round-number device and hand-built workloads for golden tests."""

from __future__ import annotations

import networkx as nx

from hwspecs.dtypes import DType
from hwspecs.schema import DeviceSpec, EfficiencyDefaults
from workloads.op import ModelFacts, Op, OpKind, Pass, Phase, Tensor, TensorRole, Workload

BF16 = DType.BF16


def round_device(**overrides) -> DeviceSpec:
    """1000 TFLOP/s bf16, 100 TFLOP/s vector, 1 TB/s, 100 GB, 100 SMs, 5 us per kernel."""
    fields = dict(
        name="round", display_name="Round-number device", vendor="test", form_factor="test",
        matrix_peak_flops_per_s={BF16: 1e15, DType.FP8: 2e15, DType.FP32: 5e13},
        matrix_sparse_peak_flops_per_s={BF16: 2e15, DType.FP8: 4e15},
        vector_peak_flops_per_s={BF16: 1e14, DType.FP32: 5e13},
        mem_capacity_bytes=100e9, mem_bw_bytes_per_s=1e12, l2_bytes=50e6, compute_units=100,
        compute_unit_name="SM", clock_hz=1e9, scale_up=None, scale_out=None,
        pcie_bw_bytes_per_s=None, tdp_w=1000.0, idle_w=100.0, purchase_price_usd=35064.0,
        rent_usd_per_s=3.6 / 3600,
        defaults=EfficiencyDefaults(kernel_overhead_s=5e-6, matrix_fraction=0.8,
                                    vector_fraction=0.5, memory_fraction=0.9,
                                    scale_up_fraction=0.8, scale_out_fraction=0.8))
    fields.update(overrides)
    return DeviceSpec(**fields)


def gemm(m: int, n: int, k: int, dtype: DType = BF16, layer: int = 0,
         pass_: Pass = Pass.FORWARD, weight: bool = True) -> Op:
    a = Tensor((m, k), dtype)
    b = Tensor((k, n), dtype, TensorRole.WEIGHT if weight else TensorRole.ACTIVATION)
    out = Tensor((m, n), dtype)
    reads = {TensorRole.ACTIVATION: a.nbytes}
    reads[b.role] = reads.get(b.role, 0.0) + b.nbytes
    return Op("mm", OpKind.GEMM, (a, b), (out,), 2.0 * m * n * k, reads,
              {TensorRole.ACTIVATION: out.nbytes}, dtype, layer=layer, pass_=pass_,
              attrs={"m": m, "n": n, "k": k, "batch": 1})


def elementwise(numel: int, dtype: DType = BF16, flops_per_element: float = 1.0,
                layer: int = 0, pass_: Pass = Pass.FORWARD) -> Op:
    t = Tensor((numel,), dtype)
    return Op("add", OpKind.ELEMENTWISE, (t, t), (t,), flops_per_element * numel,
              {TensorRole.ACTIVATION: 2 * t.nbytes}, {TensorRole.ACTIVATION: t.nbytes}, dtype,
              layer=layer, pass_=pass_)


def facts(params: int = 1_000_000_000, layers: int = 1, hidden: int = 4096) -> ModelFacts:
    return ModelFacts(name="synthetic", architecture="Synthetic", params=params,
                      active_params=params, layers=layers, hidden_size=hidden, heads=32,
                      kv_heads=32, head_dim=128, vocab_size=32000)


def workload(ops: list[Op], phase: Phase = Phase.PREFILL, batch: int = 1, seq: int = 4096,
             context: int = 0, params: int = 1_000_000_000, kv_cache_bytes: float = 0.0,
             saved_activation_bytes: float = 0.0) -> Workload:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(ops)))
    graph.add_edges_from((i, i + 1) for i in range(len(ops) - 1))
    return Workload(model=facts(params), phase=phase, batch=batch, seq=seq, context=context,
                    dtype=BF16, ops=tuple(ops), graph=graph,
                    saved_activation_bytes=saved_activation_bytes,
                    kv_cache_bytes=kv_cache_bytes)
