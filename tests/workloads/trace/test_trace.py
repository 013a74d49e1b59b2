"""The tracer on small configs: phases, roles, shapes, module paths, attention facts, bad input."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from tests.workloads.tiny_models import write_tiny
from workloads import trace_raw as traced_or_cached
from workloads.op import Pass, Phase, TensorRole

W, KV, IDX, ACT = TensorRole.WEIGHT, TensorRole.KV_CACHE, TensorRole.INDEX, TensorRole.ACTIVATION


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {name: write_tiny(folder, name) for name in
            ("tiny-llama", "tiny-mixtral", "tiny-bert", "tiny-gemma3", "tiny-deepseek-v3")}


def trace_raw(*args):
    """A fresh trace (these tests check the tracer, not the cache)."""
    return traced_or_cached(*args, use_cache=False)


def sdpa_ops(trace, pass_=Pass.FORWARD):
    return [op for op in trace.ops if op.pass_ is pass_ and "scaled_dot_product" in op.target]


def test_prefill_records_weights_indices_cache_and_layers(models):
    tr = trace_raw(models["tiny-llama"], "prefill", 2, 8)
    assert (tr.phase, tr.batch, tr.seq, tr.context) == (Phase.PREFILL, 2, 8, 0)
    assert all(op.pass_ is Pass.FORWARD for op in tr.ops)
    emb = next(op for op in tr.ops if op.target == "aten.embedding.default")
    assert [t.role for t in emb.inputs] == [W, IDX] and emb.inputs[1].shape == (2, 8)
    assert emb.module == "model.embed_tokens" and emb.layer == -1
    mms = [op for op in tr.ops if op.target == "aten.mm.default"]
    assert all(op.inputs[1].role is W for op in mms)          # x @ W^T: a view of the weight
    assert {op.inputs[0].shape[0] for op in mms if op.layer >= 0} == {16}     # B*S rows
    head = [op for op in mms if op.layer == -1]
    assert [op.module for op in head] == ["lm_head"]
    assert head[0].inputs[0].shape == (2, 64)                 # logits of the last token only
    # the cache update writes the cache; attention reads it
    cats = [op for op in tr.ops if op.attrs.get("cache_update")]
    assert cats and all(op.outputs[0].role is KV for op in cats)
    attn = sdpa_ops(tr)
    assert len(attn) == 2 and all(op.inputs[1].role is KV for op in attn)
    a = attn[0].attrs
    assert (a["causal"], a["heads"], a["kv_heads"], a["q_len"], a["kv_len"]) == (True, 4, 2, 8, 8)
    assert a["scale"] == pytest.approx(16 ** -0.5) and a["sdpa_call"] == 0
    assert attn[1].attrs["sdpa_call"] == 1


def test_every_activation_input_was_made_by_an_earlier_op(models):
    tr = trace_raw(models["tiny-llama"], "train", 2, 8)
    made: set[int] = set()
    for op in tr.ops:
        for x, t in zip(op.input_ids, op.inputs, strict=True):
            if t.role is ACT and t.dtype.value != "bool" and t.shape:
                assert x in made or op.target.startswith("aten.lift_fresh"), op
        made.update(op.output_ids)


def test_decode_reads_a_cache_of_context_tokens(models):
    tr = trace_raw(models["tiny-llama"], "decode", 3, 1, 20)
    attn = sdpa_ops(tr)
    a = attn[0].attrs
    assert (a["q_len"], a["kv_len"], a["batch"], a["causal"]) == (1, 21, 3, False)
    cat = next(op for op in tr.ops if op.attrs.get("cache_update"))
    assert cat.inputs[0].role is KV and cat.inputs[0].shape == (3, 2, 20, 16)
    assert cat.outputs[0].shape == (3, 2, 21, 16)
    logits = tr.ops[-1].outputs[0]
    assert logits.shape[:2] == (3, 1)


def test_train_has_forward_backward_and_one_adamw_step_per_parameter(models):
    tr = trace_raw(models["tiny-llama"], "train", 2, 8)
    passes = [op.pass_ for op in tr.ops]
    assert passes == sorted(passes, key=list(Pass).index)    # forward, backward, optimizer
    opt = [op for op in tr.ops if op.target == "aten._fused_adamw_.default"]
    assert all(op.pass_ is Pass.OPTIMIZER for op in opt)
    assert len(opt) == 2 * 9 + 3                              # per layer 9 tensors, + emb/norm/head
    assert len({op.module for op in opt}) == len(opt)         # each tagged with its module
    roles = Counter(t.role for t in opt[0].inputs)
    assert roles == {W: 1, TensorRole.GRADIENT: 1, TensorRole.OPTIMIZER_STATE: 3}
    back = [op for op in tr.ops if op.pass_ is Pass.BACKWARD]
    assert {op.layer for op in back} == {-1, 0, 1}
    assert any(op.module.startswith("model.layers.1.mlp") for op in back)
    assert any("backward" in op.target and op.attrs.get("attention") for op in back)
    assert any(t.role is TensorRole.GRADIENT for op in back for t in op.outputs)


def test_bert_fine_tuning_is_sequence_classification(models):
    tr = trace_raw(models["tiny-bert"], "train", 2, 8)
    assert tr.facts.architecture == "BertForSequenceClassification"
    loss = [op for op in tr.ops if "nll_loss" in op.target and op.pass_ is Pass.FORWARD]
    assert loss and loss[0].inputs[0].shape == (2, 2)        # one label per sequence, 2 classes
    assert not sdpa_ops(trace_raw(models["tiny-bert"], "prefill", 2, 8))[0].attrs["causal"]


def test_moe_runs_grouped_gemm_and_mla_caches_per_head_keys(models):
    tr = trace_raw(models["tiny-mixtral"], "prefill", 2, 8)
    assert any(op.target.startswith("aten._grouped_mm") for op in tr.ops)
    ds = trace_raw(models["tiny-deepseek-v3"], "decode", 1, 1, 10)
    a = next(op for op in ds.ops if op.attrs.get("attention")).attrs
    assert (a["head_dim"], a["v_head_dim"], a["kv_len"]) == (24, 16, 11)


def test_sliding_window_layers_say_so(models):
    tr = trace_raw(models["tiny-gemma3"], "prefill", 1, 6)
    windows = [op.attrs["sliding_window"] for op in sdpa_ops(tr)]
    assert windows.count(8) == 2 and windows.count(None) == 2   # pattern 2: sliding, full


@pytest.mark.parametrize("args, message", [
    (("prefill", 0, 8, 0), "batch must be at least 1"),
    (("prefill", 1, 0, 0), "seq must be at least 1"),
    (("decode", 1, 1, -3), "context must be zero or more"),
    (("decode", 1, 4, 10), "seq must be 1"),
    (("prefill", 1, 8, 4), "context must be 0"),
    (("sideways", 1, 8, 0), "unknown phase 'sideways'"),
    (("prefill", 1.5, 8, 0), "batch must be an integer"),
])
def test_bad_sizes_are_one_sentence(models, args, message):
    with pytest.raises(ValueError, match=message):
        trace_raw(models["tiny-llama"], *args)


def test_dtypes_that_cannot_be_traced_are_refused(models):
    with pytest.raises(ValueError, match="cannot trace at dtype fp8"):
        trace_raw(models["tiny-llama"], "prefill", 1, 4, 0, "fp8")
    with pytest.raises(ValueError, match="unknown dtype"):
        trace_raw(models["tiny-llama"], "prefill", 1, 4, 0, "bf17")


def test_encoders_have_no_decode_and_learned_positions_end(models):
    with pytest.raises(ValueError, match="encoder"):
        trace_raw(models["tiny-bert"], "decode", 1, 1, 4)
    with pytest.raises(ValueError, match="learned positions for 128 tokens"):
        trace_raw(models["tiny-bert"], "prefill", 1, 200)


def test_importing_workloads_loads_neither_torch_nor_transformers():
    code = ("import sys, workloads; workloads.catalog_names(); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[3]))
    assert out.stdout.split() == ["False", "False"]
