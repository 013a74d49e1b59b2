"""The decode stage recovers the group limit and per-head rate that made synthetic records."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from hwspecs import load_device
from simulator.core.profile import default_profile
from validation.fit.calibrate import _fit_stage
from validation.fit.predict import predict_s
from validation.fit.stages import DECODE_SHAPES, gpu_stages


def decode_grid() -> pd.DataFrame:
    rows = []
    for batch in (1, 8, 64, 256):
        for heads, kv_heads in ((8, 8), (32, 8), (32, 1), (64, 1), (128, 2), (128, 1)):
            for kv_len in (16, 512, 8192):
                kv = 2 * batch * kv_heads * kv_len * 128 * 2
                q = batch * heads * 128 * 2
                rows.append({"kernel": "attention", "op": "sdpa_decode", "dtype": "bf16",
                             "batch": batch, "heads": heads, "kv_heads": kv_heads, "q_len": 1,
                             "kv_len": kv_len, "head_dim": 128,
                             "flops": 4.0 * batch * heads * kv_len * 128,
                             "read_bytes": float(kv + q), "write_bytes": float(q)})
    return pd.DataFrame(rows)


def test_decode_stage_recovers_the_group_limit_and_the_per_head_rate():
    device = load_device("h100-sxm")
    start = default_profile(device)
    truth = replace(start, decode_memory_fraction=0.75, decode_half_bytes=2e6,
                    decode_parallel_half=2.0, decode_row_unit_s=1.5e-6,
                    overheads={"attention_decode": 8e-6}, decode_group_max=32,
                    decode_head_fraction=0.05, decode_packed_items=True)
    rows = decode_grid()
    noise = np.random.default_rng(3).lognormal(0.0, 0.02, len(rows))
    measured = predict_s(rows, device, truth) * noise
    stage = next(s for s in gpu_stages(rows) if s.name == "attention_decode")
    assert stage.shapes == DECODE_SHAPES
    fitted, _ = _fit_stage(stage, rows, measured, device, start)
    assert fitted.decode_group_max == 32 and fitted.decode_packed_items
    assert fitted.decode_head_fraction == pytest.approx(0.05, rel=0.05)
    assert fitted.decode_row_unit_s == pytest.approx(1.5e-6, rel=0.2)
    assert fitted.decode_memory_fraction == pytest.approx(0.75, rel=0.1)
