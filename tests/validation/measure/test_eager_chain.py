"""Kernels and traffic of eager chains, worked out by hand for 1024 fp32 elements (4 KiB)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from validation.measure.eager_chain import count_chain

N = 1024
KIB4 = 4.0 * N


def _tensors():
    g, u = torch.rand(N), torch.rand(N)
    return g, u, torch.empty(N)


def test_silu_then_mul_without_cache_moves_the_intermediate():
    g, u, out = _tensors()
    chain = count_chain(lambda i: torch.mul(F.silu(g), u, out=out), cache_bytes=0)
    assert chain.kernels == ("silu", "mul")
    # silu reads g, writes s; mul reads s and u, writes out (the out= buffer is not read).
    assert chain.read_bytes == 3 * KIB4
    assert chain.write_bytes == 2 * KIB4


def test_an_intermediate_that_fits_in_the_cache_costs_nothing():
    g, u, out = _tensors()
    chain = count_chain(lambda i: torch.mul(F.silu(g), u, out=out), cache_bytes=1e6)
    assert chain.launches == 2
    assert chain.read_bytes == 2 * KIB4      # g and u
    assert chain.write_bytes == KIB4         # out only


def test_a_single_kernel_counts_its_inputs_and_outputs_once():
    x, _, out = _tensors()
    chain = count_chain(lambda i: out.copy_(x), cache_bytes=0)
    assert (chain.launches, chain.read_bytes, chain.write_bytes) == (1, KIB4, KIB4)


def test_views_are_not_kernels():
    x = torch.rand(32, 32)
    chain = count_chain(lambda i: x.t().reshape(-1)[:10].sum(), cache_bytes=0)
    assert chain.kernels[-1] == "sum"
    assert "t" not in chain.kernels and "slice" not in chain.kernels


def test_a_composite_norm_reads_more_than_a_fused_one():
    x, w = torch.rand(8, 128), torch.rand(128)
    chain = count_chain(lambda i: F.rms_norm(x, (128,), w, eps=1e-6), cache_bytes=0)
    fused_bytes = 2 * x.numel() * 4
    if chain.launches > 1:   # eager CPU torch runs rms_norm as pow, mean, rsqrt and muls
        assert chain.read_bytes + chain.write_bytes > fused_bytes
