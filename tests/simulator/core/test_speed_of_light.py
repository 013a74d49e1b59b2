"""Speed of light (--ideal) on real traced models against hand numbers and public tools.

Attention FLOPs are counted as the work a flash kernel executes: causal attention over a
prompt of S tokens does (S+1)/(2S) of the full S x S work. Llama-2-7B, bf16, one H100 SXM,
batch 1, 2048-token prompt (the LM head runs on the last position only, as serving engines do):
  GEMMs 2 x 6.476e9 (params without the embedding and LM head) x 2048 = 26.53 TFLOP
  attention 4 x 2048^2 x 4096 x 32 layers x 2049/4096 = 1.10 TFLOP
  -> 27.6 TFLOP of matrix work at 989.4 TFLOP/s = 27.9 ms.
Public calculators count 29.3 TFLOP (full attention, LM head on every token) -> 29.6 ms and
ignore memory-bound kernels; ours adds about 1.6 ms of norms and elementwise at 3.35 TB/s.
Decode at context 2048: 13.2 GB of weights read by GEMMs (the embedding table is gathered,
not read) + 1.07 GB of KV cache at 3.35 TB/s = 4.27 ms (public tools: 13.5 + 1.07 GB, 4.34 ms).
"""

from __future__ import annotations

import pytest

from hwspecs import load_device
from simulator.core.options import Options
from simulator.core.simulate import simulate
from workloads import get_workload


@pytest.fixture(scope="module")
def h100():
    return load_device("h100-sxm")


def test_llama2_7b_prefill_2048_ideal(h100):
    w = get_workload("llama-2-7b", "prefill", batch=1, seq=2048)
    r = simulate(w, h100, Options(ideal=True))
    matrix_flops = 2 * 6.476e9 * 2048 + 4 * 2048**2 * 4096 * 32 * 2049 / 4096
    frame = r.to_frame()
    matrix = frame[frame["kind"].isin(["gemm", "attention"])]
    assert matrix["flops"].sum() == pytest.approx(matrix_flops, rel=0.01)
    assert matrix["time_s"].sum() == pytest.approx(matrix_flops / 989.4e12, rel=0.01)
    assert r.time_s == pytest.approx(29.6e-3, rel=0.03)


def test_llama2_7b_first_decode_token_ideal(h100):
    w = get_workload("llama-2-7b", "decode", batch=1, seq=1, context=2048)
    r = simulate(w, h100, Options(ideal=True))
    assert r.time_s == pytest.approx(4.34e-3, rel=0.03)
    assert float(r.ops.bytes.sum()) == pytest.approx(13.2e9 + 1.07e9, rel=0.02)
    assert r.bound == "memory"


def test_more_batch_or_context_never_faster(h100):
    times = [simulate(get_workload("llama-2-7b", "decode", batch=b, seq=1, context=c),
                      h100).time_s for b, c in ((1, 512), (4, 512), (4, 2048))]
    assert times == sorted(times)
