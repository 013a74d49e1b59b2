"""Cost, energy, MFU and memory, checked against hand-worked examples."""

from __future__ import annotations

import pytest

from simulator.core.cost import CostOptions, power_w, training_run, usd_per_hour
from simulator.core.memory import Recompute
from simulator.core.options import Options
from simulator.core.simulate import simulate
from tests.simulator.synthetic import elementwise, gemm, round_device, workload
from workloads.op import Pass, Phase

GEMM_S = 2 * 4096**3 / 1e15          # one 4096^3 bf16 GEMM at 1e15 FLOP/s: 137.439 us


def _train_step():
    # Forward: 1 GEMM; backward: 2 GEMMs (grad input, grad weight); optimizer: 1e6 elements.
    ops = [gemm(4096, 4096, 4096, pass_=Pass.FORWARD),
           gemm(4096, 4096, 4096, pass_=Pass.BACKWARD),
           gemm(4096, 4096, 4096, pass_=Pass.BACKWARD),
           elementwise(1_000_000, pass_=Pass.OPTIMIZER, layer=-1)]
    return workload(ops, phase=Phase.TRAIN, batch=1, seq=4096, params=16_777_216,
                    saved_activation_bytes=4096 * 4096 * 2)


def test_mfu_hand_worked():
    # Ideal: 3 GEMMs = 412.317 us; optimizer: 6 MB at 1 TB/s = 6 us -> step = 418.317 us.
    # Model FLOPs = 3 x 1.37439e11 = 4.12317e11 (optimizer excluded).
    # MFU = 4.12317e11 / (418.317e-6 s x 1e15) = 0.985657.
    r = simulate(_train_step(), round_device(), Options(ideal=True))
    step = 3 * GEMM_S + 6e6 / 1e12
    assert r.time_s == pytest.approx(step, rel=1e-9)
    assert r.mfu == pytest.approx(3 * 2 * 4096**3 / (step * 1e15), rel=1e-9)
    assert r.hfu == pytest.approx(r.mfu + 1e6 / (step * 1e15), rel=1e-9)
    assert r.tokens_per_s == pytest.approx(4096 / step, rel=1e-9)


def test_full_recompute_adds_the_forward_again_and_raises_hfu_not_mfu():
    base = simulate(_train_step(), round_device(), Options(ideal=True))
    full = simulate(_train_step(), round_device(),
                    Options(ideal=True, recompute=Recompute.FULL))
    assert full.time_s == pytest.approx(base.time_s + GEMM_S, rel=1e-9)
    assert full.hfu > base.hfu * (base.time_s / full.time_s)
    assert full.model_flops == base.model_flops


def test_training_memory_mixed_precision_adamw():
    # 16,777,216 params: bf16 weights 2 B + fp32 master 4 B + bf16 grads 2 B + Adam 8 B
    # = 16 B/param = 268.435456 MB, plus saved activations 33.554432 MB.
    r = simulate(_train_step(), round_device())
    fp = r.footprint
    assert fp.weights_bytes + fp.gradient_bytes + fp.optimizer_bytes == 16 * 16_777_216
    assert fp.activation_bytes == 4096 * 4096 * 2
    assert fp.feasible


def test_out_of_memory_is_a_result():
    r = simulate(workload([gemm(64, 64, 64)], params=60_000_000_000), round_device())
    assert not r.footprint.feasible          # 120 GB of bf16 weights on 100 GB
    assert r.summary()["feasible"] is False and r.max_batch == 0


def test_max_batch_from_kv_cache():
    # 10 GB weights (5e9 bf16 params); batch 4 holds 4 GB of KV -> 1 GB per sequence,
    # plus the largest kernel's activations: 64x64 GEMM in 8 kB + out 8 kB over 4 sequences.
    w = workload([gemm(64, 64, 64)], phase=Phase.DECODE, batch=4, seq=1, context=1000,
                 params=5_000_000_000, kv_cache_bytes=4e9)
    r = simulate(w, round_device())
    per_seq = (4e9 + 2 * 64 * 64 * 2) / 4
    assert r.max_batch == int((100e9 - 10e9) // per_seq)


def test_power_energy_and_rent():
    dev = round_device()
    opts = CostOptions()
    # Idle 100 W, TDP 1000 W, half busy -> 550 W.
    assert power_w(dev, 0.5, opts) == pytest.approx(550.0)
    assert usd_per_hour(dev, 550.0, opts) == pytest.approx(3.6)
    r = simulate(workload([gemm(4096, 4096, 4096)]), round_device(), Options(ideal=True))
    # Fully busy: 1000 W x 137.439 us; rent $3.6/h = $0.001/s -> $/1M tokens =
    # 0.001 x 137.439e-6 / 4096 tokens x 1e6 = 3.3554e-5.
    assert r.cost.energy_j == pytest.approx(1000.0 * GEMM_S, rel=1e-9)
    assert r.cost.j_per_token == pytest.approx(1000.0 * GEMM_S / 4096, rel=1e-9)
    assert r.cost.usd_per_1m_tokens == pytest.approx(0.001 * GEMM_S / 4096 * 1e6, rel=1e-9)


def test_tco_hand_worked():
    # $35,064 over 4 years (35,064 h) at 70% utilization -> $1/0.7 = $1.428571 per hour of
    # work; energy 1000 W x PUE 1.3 = 1.3 kWh per hour at $0.10 -> $0.13. Total $1.558571/h.
    opts = CostOptions(pricing="tco")
    assert usd_per_hour(round_device(), 1000.0, opts) == pytest.approx(1 / 0.7 + 0.13)


def test_days_and_dollars_to_train():
    # 1 s per step of 1M tokens, 1e12 tokens -> 1e6 s = 11.574 days; at $100/h -> $27,777.78.
    days, usd = training_run(1.0, 1e6, 1e12, 100.0)
    assert days == pytest.approx(1e6 / 86400)
    assert usd == pytest.approx(100.0 * 1e6 / 3600)


def test_bad_cost_options_are_refused():
    with pytest.raises(ValueError, match="pricing"):
        CostOptions(pricing="free")
    with pytest.raises(ValueError, match="utilization"):
        CostOptions(utilization=0)
