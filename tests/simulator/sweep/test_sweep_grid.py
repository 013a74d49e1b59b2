"""Grid files: axes, their product, and one clear error per bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwspecs import device_names
from simulator.sweep.grid import grid_from_dict, load_grid, variant_label
from workloads.op import Phase

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "grid.yaml"
BASE = {"models": ["gpt2"], "devices": ["h100-sxm"]}


def test_example_grid_counts_its_points():
    grid = load_grid(EXAMPLE)
    # 2 models x 2 phases x 2 batches x 2 lengths; 3 devices x 9 variants x 2 precisions.
    assert len(grid.chunks()) == 16
    assert grid.points_per_chunk == 54
    assert grid.num_points == 864


def test_decode_runs_one_token_on_each_context_and_others_on_seq():
    grid = grid_from_dict({**BASE, "phases": ["prefill", "decode"], "batch": [2],
                           "seq": [128, 256], "context": [1024]})
    shapes = [(k.phase.value, k.batch, k.seq, k.context) for k in grid.chunks()]
    assert shapes == [("prefill", 2, 128, 0), ("prefill", 2, 256, 0), ("decode", 2, 1, 1024)]
    assert [k.index for k in grid.chunks()] == [0, 1, 2]


def test_variants_are_the_product_of_their_factors():
    grid = grid_from_dict({**BASE, "variants": {"mem_bw": [0.5, 1, 2], "matrix": [1, 2]}})
    assert len(grid.variants) == 6
    assert variant_label(grid.variants[-1]) == "mem_bwx2,matrixx2"
    assert variant_label(grid_from_dict(BASE).variants[0]) == "base"


def test_all_devices_and_defaults():
    grid = grid_from_dict({"models": ["gpt2"], "devices": ["all"]})
    assert grid.devices == tuple(device_names())
    assert grid.phases == (Phase.PREFILL,) and grid.batch == (1,) and grid.context == grid.seq


def test_the_fingerprint_tells_grids_apart():
    a = grid_from_dict({**BASE, "batch": [1, 2]})
    assert a.fingerprint() == grid_from_dict({**BASE, "batch": [1, 2]}).fingerprint()
    assert a.fingerprint() != grid_from_dict({**BASE, "batch": [1, 4]}).fingerprint()


@pytest.mark.parametrize(("raw", "message"), [
    (["gpt2"], "YAML mapping"),
    ({"devices": ["h100-sxm"]}, "'models'"),
    ({**BASE, "batchs": [1]}, "unknown grid key"),
    ({**BASE, "phases": ["serve"]}, "unknown phase 'serve'"),
    ({**BASE, "batch": [0]}, "'batch' must be positive"),
    ({**BASE, "seq": [128, 128]}, "'seq' lists a value twice"),
    ({**BASE, "variants": {"nic": [2]}}, "unknown variant factor 'nic'"),
    ({**BASE, "variants": {"mem_bw": [-1]}}, "'mem_bw' needs distinct positive"),
    ({**BASE, "variants": [0.5]}, "'variants' must map"),
    ({**BASE, "precisions": ["fp7"]}, "bad precision 'fp7'"),
    ({**BASE, "precisions": [{"dtype": "bf16", "wieghts": "int4"}]}, "a precision is"),
    ({**BASE, "pricing": "lease"}, "unknown pricing"),
    ({**BASE, "recompute": "some"}, "unknown recompute"),
    ({**BASE, "ideal": "yes"}, "'ideal' must be true or false"),
    ({**BASE, "models": ["gpt2", "gpt2"]}, "'models' lists a value twice"),
])
def test_bad_grids_are_rejected_with_the_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        grid_from_dict(raw, "grid.yaml")


def test_a_missing_grid_file_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read grid file"):
        load_grid(tmp_path / "nope.yaml")
