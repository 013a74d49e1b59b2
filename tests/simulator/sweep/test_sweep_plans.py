"""Plans in sweeps: every multi-GPU point equals the single `inference.step_time` or
`training.evaluate` call for its device variant, plan and precision; impossible plans are
points with the reason; a grid without plans is the single-device sweep it always was."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwspecs.build import make_system
from hwspecs.scale import FACTOR_NAMES
from simulator.core.cost import summarize
from simulator.core.options import Options
from simulator.inference.step import step_times
from simulator.parallel.systems import system_for_gpus
from simulator.sweep.chunk import evaluate_chunk
from simulator.sweep.grid import grid_from_dict, load_grid
from simulator.sweep.grid_plans import plan_for, plan_label
from simulator.training.step import evaluate, prepare
from tests.cli.test_training_cli import TINY_LLAMA
from workloads.config import tp_plan_of  # what `archsim infer` and `archsim train` use

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "grid-plans.yaml"
BASE = {"models": ["gpt2"], "devices": ["h100-sxm"]}
_COST = ("power_w", "energy_j", "j_per_token", "usd_per_hour", "usd_per_1m_tokens")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A 4-layer Llama (8 heads, 4 KV heads): a fast trace."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA))
    return str(folder)


def _close(value, want) -> bool:
    """Equal to the last bit (None: a spec without what the metric needs)."""
    if want is None:
        return math.isnan(value)
    return value == want


def _system(ref: str, gpus: int, factors: dict[str, float]):
    """The plan's system rebuilt from the scaled device, as `load_system` builds a device's."""
    base = system_for_gpus(ref, gpus)
    device = base.device.scaled(**factors)
    return make_system(base.name, base.display_name, device, base.devices_per_node, base.nodes,
                       device.scale_up, device.scale_out if base.nodes > 1 else None,
                       path=base.path)


def _points(grid):
    """(chunk key, workload, plan, row, its system) for every point without an error; and the
    errors by plan label."""
    from workloads import get_workload

    items = {plan_label(p): p for p in grid.plans}
    errors: dict[str, set[str]] = {}
    points = []
    for key in grid.chunks():
        w = get_workload(key.model, key.phase, key.batch, key.seq, key.context)
        frame = evaluate_chunk(grid, key)
        assert len(frame) == grid.points_per_chunk
        for _, row in frame.iterrows():
            plan = plan_for(items[row["plan"]], key.phase, key.batch, grid.recompute)
            assert row["gpus"] == plan.gpus and row["tokens"] == plan.dp * w.tokens
            if row["error"]:
                errors.setdefault(row["plan"], set()).add(row["error"])
                assert math.isnan(row["time_s"]) and not row["feasible"]
                continue
            factors = {f: row[f] for f in FACTOR_NAMES}
            points.append((key, w, plan, row, _system(row["device"], plan.gpus, factors)))
    return points, errors


INFER = {"phases": ["prefill", "decode"], "batch": [2], "seq": [64], "context": [128],
         "devices": ["h100-sxm", "mi300x"],
         "plans": [{"tp": 2}, {"tp": 4, "pp": 2}, {"tp": 2, "dp": 2}, {"tp": 4, "dp": 4},
                   {"tp": 16}, {"tp": 2, "ep": 2}],
         "variants": {"link": [0.5, 1], "mem_bw": [1, 2]}, "precisions": ["bf16", "fp8"],
         "pricing": "tco"}


def test_inference_plan_points_equal_step_time(tiny):
    grid = grid_from_dict({**INFER, "models": [tiny]})
    precisions = {p.label: p for p in grid.precisions}
    points, errors = _points(grid)
    comm_by_link: dict[tuple, dict[float, float]] = {}
    for key, w, plan, row, system in points:
        options = Options(precision=precisions[row["precision"]], cost=grid.cost_options(),
                               tp_plan=tp_plan_of(key.model))
        st = step_times(w, system, plan, options, options.profile_for(system.device))
        time_s, comm_s, busy_s = (float(x[0]) for x in (st.time_s, st.comm_s, st.busy_s))
        assert _close(row["time_s"], time_s) and _close(row["comm_s"], comm_s)
        tokens = plan.dp * w.tokens
        assert _close(row["tokens_per_s"], tokens / time_s)
        cost = summarize(system.device, time_s, min(busy_s, time_s), tokens,
                         grid.cost_options(), plan.gpus)
        for name in _COST:
            assert _close(row[name], getattr(cost, name)), name
        assert row["memory_capacity_bytes"] == system.device.mem_capacity_bytes
        assert row["feasible"] == (row["memory_bytes"] <= row["memory_capacity_bytes"])
        comm_by_link.setdefault((key.index, row["device"], row["plan"], row["precision"]),
                                {})[row["link"]] = row["comm_s"]
    # 2 chunks x (h100: 4 plans, mi300x: 3) x 2 precisions x 4 variants
    assert len(points) == 2 * 7 * 2 * 4
    assert all(by[0.5] > by[1.0] > 0 for by in comm_by_link.values())
    no_nic = ("system reference 'mi300x:devices=8,nodes=2': mi300x has no scale-out NIC in "
              "its spec; give nic_Gbps=...")
    assert errors["tp4 pp1 dp4"] == {no_nic}
    heads, nic = sorted(errors["tp16 pp1 dp1"], key=lambda e: e == no_nic)
    assert heads.startswith("tp=16 does not divide the 8 attention heads of ") and nic == no_nic
    (ep,) = errors["tp2 pp1 dp1 ep2"]
    assert ep.startswith("ep=2 needs a mixture-of-experts model") and len(errors) == 3


def test_inference_plan_memory_is_per_gpu():
    grid = grid_from_dict({**INFER, "models": ["gpt2"], "phases": ["decode"], "variants": {},
                           "precisions": ["bf16"], "devices": ["h100-sxm"],
                           "plans": [{}, {"tp": 2}, {"tp": 2, "dp": 2}, {"tp": 4, "pp": 2}]})
    frame = evaluate_chunk(grid, grid.chunks()[0]).set_index("plan")
    memory = frame["memory_bytes"]
    assert memory["tp2 pp1 dp2"] == memory["tp2 pp1 dp1"]
    assert memory["tp4 pp2 dp1"] < memory["tp2 pp1 dp1"] < memory["tp1 pp1 dp1"]
    # Weights dominate gpt2's decode: half of them per GPU at tp2 (within the small cache).
    assert memory["tp2 pp1 dp1"] == pytest.approx(memory["tp1 pp1 dp1"] / 2, rel=0.05)
    assert (frame["max_batch"] > 0).all()


TRAIN = {"phases": ["train"], "batch": [2], "seq": [64], "devices": ["h100-sxm"],
         "plans": [{"tp": 2}, {"tp": 2, "pp": 2, "micro_batch": 1}, {"dp": 2, "zero": 1},
                   {"tp": 2, "dp": 2, "zero": 3, "sp": True},
                   {"pp": 2, "vp": 2, "micro_batch": 1}, {"pp": 3}, {"pp": 5}],
         "variants": {"link": [0.5, 1], "mem_bw": [1, 2], "matrix": [1, 2]},
         "recompute": "selective"}


def test_training_plan_points_equal_training_evaluate(tiny):
    grid = grid_from_dict({**TRAIN, "models": [tiny]})
    points, errors = _points(grid)
    for key, w, plan, row, system in points:
        options = Options(precision=grid.precisions[0], cost=grid.cost_options(),
                               tp_plan=tp_plan_of(key.model))
        r = evaluate(prepare(w, system, options), plan)
        assert _close(row["time_s"], r.step_time_s)
        assert _close(row["comm_s"], r.breakdown_s["exposed_comm_s"])
        assert _close(row["recompute_s"], r.breakdown_s["recompute_s"])
        assert _close(row["mfu"], r.mfu) and _close(row["tokens_per_s"], r.tokens_per_s)
        assert _close(row["memory_bytes"], r.memory_bytes_per_gpu)
        assert _close(row["flops"], r.hardware_flops) and row["feasible"] == r.feasible
        for name in _COST:
            assert _close(row[name], getattr(r.cost, name)), name
        assert plan.batch == 2 * plan.dp and plan.recompute.value == "selective"
    assert len(points) == 6 * 8               # pp 3 runs uneven: stages of 1, 2 and 1 layers
    assert list(errors) == ["tp1 pp5 dp1"]
    assert next(iter(errors["tp1 pp5 dp1"])).startswith("pp=5 is more pipeline stages than "
                                                        "the 4 layers of ")


def test_without_plans_each_point_is_one_device_and_link_changes_nothing():
    raw = {**BASE, "phases": ["decode"], "batch": [2], "context": [128],
           "variants": {"link": [1, 4], "mem_bw": [1, 2]}}
    grid = grid_from_dict(raw)
    key = grid.chunks()[0]
    frame = evaluate_chunk(grid, key)
    assert set(frame["plan"]) == {"tp1 pp1 dp1"} and (frame["gpus"] == 1).all()
    assert (frame["comm_s"] == 0.0).all()
    by_link = frame.set_index(["link", "mem_bw"])["time_s"]
    assert by_link[(1.0, 2.0)] == by_link[(4.0, 2.0)]
    # The one-device plan among others: the same rows.
    mixed = evaluate_chunk(grid_from_dict({**raw, "plans": [{"tp": 2}, {}]}), key)
    single = mixed[mixed["plan"] == "tp1 pp1 dp1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(single, frame, check_exact=True)


def test_more_link_bandwidth_never_slows_a_plan():
    grid = grid_from_dict({**BASE, "phases": ["prefill"], "batch": [4], "seq": [64],
                           "plans": [{"tp": 4, "dp": 4}],
                           "variants": {"link": [float(k) for k in np.geomspace(0.25, 4, 9)]}})
    frame = evaluate_chunk(grid, grid.chunks()[0])
    assert (frame["gpus"] == 16).all() and not frame["error"].any()
    assert np.all(np.diff(frame["time_s"]) <= 0) and np.all(np.diff(frame["comm_s"]) < 0)


def test_scaled_system_is_the_system_of_the_scaled_device():
    base = system_for_gpus("h100-sxm", 16)
    factors = {"link": 2.0, "mem_bw": 1.5, "price": 3.0}
    assert base.scaled(**factors) == _system("h100-sxm", 16, factors)
    assert base.scaled(link=1.0) is base


def test_example_plan_grid_counts_its_points():
    grid = load_grid(EXAMPLE)
    assert len(grid.chunks()) == 8 and grid.points_per_chunk == 2 * 4 * 6 * 2
    assert grid.num_points == 768
    assert [plan_label(p) for p in grid.plans] == ["tp4 pp1 dp1", "tp8 pp1 dp1",
                                                   "tp4 pp2 dp1", "tp4 pp1 dp2"]


@pytest.mark.parametrize(("plans", "message"), [
    ([{"tp": 0}], "bad plan {'tp': 0}: tp must be a whole number of at least 1, not 0"),
    ([{"tpp": 2}], "plan {'tpp': 2} has unknown field(s) tpp; use tp, pp, dp"),
    ([{"global_batch": 8}], "unknown field(s) global_batch"),
    (["tp8"], "a plan is a mapping of plan fields like {tp: 4, pp: 2}, not 'tp8'"),
    ([], "'plans' must list at least one plan"),
    ([{"tp": 2}, {"tp": 2, "pp": 1}], "'plans' lists a value twice"),
    ([{"tp": 2.5}], "tp must be a whole number, not 2.5"),
    ([{"sp": "yes"}], "sp must be true or false, not 'yes'"),
    ([{"zero": 4}], "zero must be a ZeRO stage 0, 1, 2 or 3, not 4"),
    ([{"pp": 2, "vp": 2, "schedule": "1f1b"}], "vp=2 virtual stages need the interleaved"),
    ([{"schedule": "gpipe"}], "unknown pipeline schedule 'gpipe'"),
    ([{"ep": 2, "expert_imbalance": 0.5}], "expert_imbalance must be at least 1"),
])
def test_bad_plans_are_one_clear_sentence(plans, message):
    with pytest.raises(ValueError) as e:
        grid_from_dict({**BASE, "plans": plans}, "grid.yaml")
    text = str(e.value)
    assert text.startswith("grid.yaml: ") and message in text and "\n" not in text


def test_plans_are_canonical_and_part_of_the_fingerprint():
    a = grid_from_dict({**BASE, "plans": [{"pp": 2, "tp": 4, "dp": 1}, {"micro_batch": 1}]})
    assert a.plans == ((("tp", 4), ("pp", 2)), (("micro_batch", 1),))
    assert [plan_label(p) for p in a.plans] == ["tp4 pp2 dp1", "tp1 pp1 dp1 mb1"]
    assert a.fingerprint() != grid_from_dict(BASE).fingerprint()
    assert grid_from_dict(BASE).plans == ((),)


def test_grid_plans_take_attention_dp_and_uneven_stages():
    from simulator.sweep.grid_plans import plan_label

    grid = grid_from_dict({**INFER, "models": ["gpt2"], "phases": ["decode"], "variants": {},
                           "precisions": ["bf16"], "devices": ["h100-sxm"],
                           "plans": [{"pp_layers": [5, 7]}, {"pp": 2},
                                     {"attn_dp": 2, "ep": 2}]})
    assert [plan_label(p) for p in grid.plans] == ["tp1 pp2 dp1 layers 5,7", "tp1 pp2 dp1",
                                                   "tp1 pp1 dp1 ep2 adp2"]
    frame = evaluate_chunk(grid, grid.chunks()[0]).set_index("plan")
    # gpt2's 12 layers: 5 and 7 per stage hold more on the fuller GPU than 6 and 6
    assert frame.loc["tp1 pp2 dp1 layers 5,7", "memory_bytes"] > \
        frame.loc["tp1 pp2 dp1", "memory_bytes"]
    assert frame.loc["tp1 pp1 dp1 ep2 adp2", "error"].startswith("ep=2 needs a mixture")
    with pytest.raises(ValueError, match="pp_layers must list whole numbers"):
        grid_from_dict({**INFER, "models": ["gpt2"], "plans": [{"pp_layers": [5, "7"]}]})
