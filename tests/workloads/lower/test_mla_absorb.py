"""`mla_absorb`: DeepSeek-V3's decode in the absorbed form, worked by hand, and its switch.

The golden model is DeepSeek-V3's own config.json (catalog) cut to two layers (one dense, one
MoE layer with 16 routed experts, top-8 as in the real model, n_group 1): every per-layer
shape is DeepSeek-V3's, so its numbers are the real model's per layer. One sequence decodes
one token over a cache of 4,095 tokens: the attention reads L = 4,096 cached positions (the
new token's latent is written first).

DeepSeek-V3: hidden 7168, 128 heads, q_lora_rank 1536, kv_lora_rank r = 512, rope dim 64,
nope dim 128, v dim 128 (q/k head 192), dense FFN 18432, expert FFN 2048, vocab 129280.
"""

from __future__ import annotations

import json

import networkx as nx
import pytest

from tests.workloads.tiny_models import write_tiny
from workloads import get_workload, load_config
from workloads.op import OpKind, Phase, TensorRole

L = 4096                  # keys the decode query attends to (context 4095 + the new token)

# Matrix FLOPs of one token in one layer's attention, absorbed (2 FLOP per multiply-add):
#   q_a_proj            2 x 7168 x 1536                   =        22,020,096
#   q_b_proj            2 x 1536 x (128 x 192 = 24,576)   =        75,497,472
#   kv_a_proj_with_mqa  2 x 7168 x (512 + 64)             =         8,257,536
#   mla_q_absorb        2 x 128 heads x 128 x 512         =        16,777,216   (q_nope W_UK)
#   mla_attention       2 x 128 x L x (576 + 512)         =     1,140,850,688   (QK^T at width
#                       r + rope = 576 over the latent, PV at width r = 512)
#   mla_out_absorb      2 x 128 x 512 x 128               =        16,777,216   (o_latent W_UV)
#   o_proj              2 x (128 x 128 = 16,384) x 7168   =       234,881,024
ATTENTION_FLOPS = {
    "q_a_proj": 22_020_096, "q_b_proj": 75_497_472, "kv_a_proj_with_mqa": 8_257_536,
    "mla_q_absorb": 16_777_216, "mla_attention": 1_140_850_688, "mla_out_absorb": 16_777_216,
    "o_proj": 234_881_024,
}
ATTENTION_LAYER_FLOPS = 1_515_061_248
# Weight bytes (bf16) the attention reads per layer: (7168 x 1536 + 1536 x 24,576 + 7168 x 576
# + 512 x (128 x 256) [W_UK and W_UV: kv_b_proj's weight, read once between them]
# + 16,384 x 7168) x 2 = 187,105,280 x 2
ATTENTION_WEIGHT_BYTES = 374_210_560
# KV cache read per layer: L x (512 + 64) x 2 bytes, the latent as it is stored (the expanded
# form would write 128 heads x L x (192 + 128) x 2 = 335,544,320 bytes of keys and values).
LATENT_READ_BYTES = 4_718_592
# The rest of the model, one token:
DENSE_MLP_FLOPS = 792_723_456     # gate, up, down: 3 x 2 x 7168 x 18432
ROUTED_FLOPS = 704_643_072        # 8 experts: 2 x 8 x 7168 x (2 x 2048) + 2 x 8 x 2048 x 7168
SHARED_FLOPS = 88_080_384         # the shared expert: 3 x 2 x 7168 x 2048
ROUTER_FLOPS_256 = 3_670_016      # the real router, 2 x 7168 x 256 (here 16 experts: 229,376)
HEAD_FLOPS = 1_853_358_080        # lm_head: 2 x 7168 x 129280
# The whole of DeepSeek-V3 (61 layers: 3 dense, 58 MoE), one decode token at L = 4096:
#   61 x 1,515,061,248                                    =    92,418,736,128
#   3 x 792,723,456                                       =     2,378,170,368
#   58 x (704,643,072 + 88,080,384 + 3,670,016)           =    46,190,821,376
#   + lm_head                                             =     1,853,358,080
#                                                         =   142,841,085,952  (~143 GFLOP)
# The expanded form re-expands the cache through kv_b_proj in every layer instead:
# 2 x L x 512 x 32,768 = 137,438,953,472 FLOP per layer, ~8.4 TFLOP per token.
DEEPSEEK_V3_DECODE_FLOPS = 142_841_085_952


@pytest.fixture(scope="module")
def ds_config(tmp_path_factory):
    data = dict(load_config("deepseek-v3").data)
    data.update(num_hidden_layers=2, first_k_dense_replace=1, n_routed_experts=16, n_group=1,
                topk_group=1)
    path = tmp_path_factory.mktemp("ds") / "deepseek-v3-2l.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture(scope="module")
def absorbed(ds_config):
    return get_workload(ds_config, "decode", 1, 1, L - 1, reshape=False)


@pytest.fixture(scope="module")
def expanded(ds_config):
    return get_workload(ds_config, "decode", 1, 1, L - 1, reshape=False,
                        disabled_passes=("mla_absorb",))


def _matrix_flops(op) -> float:
    """The multiply-adds alone (a fused epilogue's pointwise FLOPs left out)."""
    a = op.attrs
    if op.kind is OpKind.ATTENTION:
        return op.flops
    rows = a["routed_rows"] if op.kind is OpKind.GROUPED_GEMM else a["m"]
    return 2.0 * rows * a["n"] * a["k"] * a.get("batch", 1) \
        if op.kind is OpKind.GEMM else 2.0 * rows * a["n"] * a["k"]


def _by_name(w, layer: int) -> dict[str, object]:
    out = {}
    for op in w.ops:
        if op.layer == layer and op.kind.on_matrix_unit:
            out[op.name if op.name.startswith("mla_") else op.module.rsplit(".", 1)[-1]] = op
    return out


def test_deepseek_v3_decode_attention_absorbed_by_hand(absorbed):
    for layer in (0, 1):
        ops = _by_name(absorbed, layer)
        attn = {k: ops[k] for k in ATTENTION_FLOPS}
        assert {k: _matrix_flops(v) for k, v in attn.items()} == ATTENTION_FLOPS
        assert sum(_matrix_flops(v) for v in attn.values()) == ATTENTION_LAYER_FLOPS
        weights = sum(v.read_bytes.get(TensorRole.WEIGHT, 0.0) for v in attn.values())
        assert weights == ATTENTION_WEIGHT_BYTES
        core = attn["mla_attention"]
        assert core.read_bytes[TensorRole.KV_CACHE] == LATENT_READ_BYTES
        assert (core.attrs["kv_heads"], core.attrs["head_dim"], core.attrs["v_head_dim"],
                core.attrs["kv_len"]) == (1, 576, 512, L)
        assert "kv_b_proj" not in ops                # no re-expansion of the cache
    moe = _by_name(absorbed, 1)
    routed = sum(_matrix_flops(op) for op in absorbed.ops
                 if op.layer == 1 and op.kind is OpKind.GROUPED_GEMM)
    shared = sum(_matrix_flops(op) for op in absorbed.ops
                 if op.layer == 1 and "shared_experts" in op.module and op.kind is OpKind.GEMM)
    dense = sum(_matrix_flops(op) for op in absorbed.ops
                if op.layer == 0 and ".mlp." in op.module and op.kind is OpKind.GEMM)
    assert (routed, shared, dense) == (ROUTED_FLOPS, SHARED_FLOPS, DENSE_MLP_FLOPS)
    assert _matrix_flops(moe["gate"]) == ROUTER_FLOPS_256 // 16
    head = next(op for op in absorbed.ops if op.module == "lm_head")
    assert _matrix_flops(head) == HEAD_FLOPS
    # The whole 61-layer model, from the per-layer parts the trace gave:
    total = 61 * ATTENTION_LAYER_FLOPS + 3 * dense + 58 * (routed + shared + ROUTER_FLOPS_256) \
        + _matrix_flops(head)
    assert total == DEEPSEEK_V3_DECODE_FLOPS


def test_expanded_form_re_expands_the_cache_every_step(absorbed, expanded):
    up = _by_name(expanded, 1)["kv_b_proj"]
    assert _matrix_flops(up) == 2 * L * 512 * 128 * (128 + 128) == 137_438_953_472
    assert up.read_bytes[TensorRole.KV_CACHE] == L * 512 * 2
    assert not any(op.name.startswith("mla_") for op in expanded.ops)
    ratio = sum(op.flops for op in expanded.ops if op.layer == 1) \
        / sum(op.flops for op in absorbed.ops if op.layer == 1)
    assert ratio > 30                              # per layer, at this cache length
    assert "mla_absorb" in absorbed.passes and "mla_absorb" not in expanded.passes
    assert absorbed.kv_cache_bytes == expanded.kv_cache_bytes


def test_absorbed_graph_is_a_dag_over_the_new_kernels(absorbed):
    g = absorbed.graph
    assert g.number_of_nodes() == len(absorbed.ops) and nx.is_directed_acyclic_graph(g)
    i = next(k for k, op in enumerate(absorbed.ops) if op.name == "mla_q_absorb")
    assert g.has_edge(i, i + 1) and g.has_edge(i + 1, i + 2)
    assert absorbed.ops[i + 2].name == "mla_out_absorb"


def test_prefill_and_other_models_keep_their_kernels(tmp_path):
    ds = write_tiny(tmp_path, "tiny-deepseek-v3")
    pre = get_workload(ds, "prefill", 2, 8)
    assert pre.phase is Phase.PREFILL and not any(op.name.startswith("mla_") for op in pre.ops)
    llama = write_tiny(tmp_path, "tiny-llama")
    on = get_workload(llama, "decode", 2, 1, 16)
    off = get_workload(llama, "decode", 2, 1, 16, disabled_passes=("mla_absorb",))
    assert [op.name for op in on.ops] == [op.name for op in off.ops]
    small = get_workload(ds, "decode", 2, 1, 10)
    assert sum(op.name.startswith("mla_") for op in small.ops) == 3 * 3   # 3 layers
