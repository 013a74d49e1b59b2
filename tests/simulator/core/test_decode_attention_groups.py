"""Decode attention by group size: a work item per KV head with its query heads packed on it,
and groups too large to pack priced one query head at a time on the vector units."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from hwspecs import load_device
from simulator.core.profile import default_profile
from validation.fit.kernel_records import kernel_seconds

H100 = load_device("h100-sxm")       # 132 SMs, 133.8 bf16 vector TFLOP/s, 3.35 TB/s


def decode_row(batch: int, heads: int, kv_heads: int, kv_len: int, head_dim: int
               ) -> pd.DataFrame:
    kv = 2 * batch * kv_heads * kv_len * head_dim * 2
    q = batch * heads * head_dim * 2
    return pd.DataFrame([{"kernel": "attention", "op": "sdpa_decode", "dtype": "bf16",
                          "batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": 1,
                          "kv_len": kv_len, "head_dim": head_dim,
                          "flops": 4.0 * batch * heads * kv_len * head_dim,
                          "read_bytes": float(kv + q), "write_bytes": float(q)}])


def profile(**values):
    base = replace(default_profile(H100), decode_memory_fraction=0.8, decode_packed_items=True,
                   overheads={"attention_decode": 5e-6}, decode_row_unit_s=2e-6)
    return replace(base, **values)


def test_a_group_too_large_to_pack_runs_its_query_heads_on_the_vector_units():
    # 64 sequences x 128 query heads on one KV head, 4096 keys of 128: 4 x 64 x 128 x 4096 x
    # 128 = 1.718e10 FLOPs at 5% of 133.8 TFLOP/s = 2.568 ms; the per-query-head floor
    # (8192 x 2 us / 132 = 124 us) and the 134 MB read (~50 us) are below it; + 5 us fixed.
    row = decode_row(64, 128, 1, 4096, 128)
    p = profile(decode_group_max=32, decode_head_fraction=0.05)
    expected = 4 * 64 * 128 * 4096 * 128 / (133.8e12 * 0.05) + 5e-6
    assert kernel_seconds(row, H100, p)[0] == pytest.approx(expected, rel=1e-6)
    # With no group limit the same row packs: far faster (its KV read bounds it).
    assert kernel_seconds(row, H100, profile(decode_head_fraction=0.05))[0] < expected / 10


def test_the_row_floor_counts_kv_heads_of_a_packed_group():
    # 1024 sequences x 8 KV heads (32 query heads, groups of 4), 2 keys of 64: 8192 work
    # items x 2 us / 132 SMs = 124.1 us; reads (~8 MB) and FLOPs are far below; + 5 us.
    row = decode_row(1024, 32, 8, 2, 64)
    expected = 1024 * 8 * 2e-6 / 132 + 5e-6
    assert kernel_seconds(row, H100, profile())[0] == pytest.approx(expected, rel=1e-6)
    # Where the group exceeds what one kernel packs, every query head is its own work item.
    per_head = profile(decode_group_max=2, decode_head_fraction=0.5)
    assert kernel_seconds(row, H100, per_head)[0] == pytest.approx(
        1024 * 32 * 2e-6 / 132 + 5e-6, rel=1e-6)


def test_unfitted_profiles_leave_the_group_model_off():
    p = default_profile(H100)
    assert p.decode_group_max == 0 and p.decode_head_fraction == 0.0 and not p.decode_packed_items
    row = decode_row(1024, 32, 8, 2, 64)    # without packed items the floor counts query heads
    assert kernel_seconds(row, H100, profile(decode_packed_items=False))[0] == pytest.approx(
        1024 * 32 * 2e-6 / 132 + 5e-6, rel=1e-6)
    with pytest.raises(ValueError, match="decode_group_max"):
        replace(p, decode_group_max=-1)
