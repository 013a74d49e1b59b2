"""Issue 19: hostile grid files and results folders: one sentence naming the file, fast; a
grid too big to run is refused with the estimate of its work."""

from __future__ import annotations

import time

import pytest

import archsim
from simulator.sweep.grid import MAX_POINTS, grid_from_dict, load_grid
from simulator.sweep.store import ResultStore
from tests.hwspecs.test_hostile_specs import alias_bomb


def write(tmp_path, text: str):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    return path


def test_an_alias_bomb_grid_is_refused_within_a_second(tmp_path):
    path = write(tmp_path, alias_bomb() + "models: [gpt2]\ndevices: [h100-sxm]\nbatch: *b9\n")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="expands to more than") as info:
        load_grid(path)
    assert time.perf_counter() - start < 1.0 and str(path) in str(info.value)


def test_a_bad_value_is_shown_short(tmp_path):
    path = write(tmp_path, "models: [gpt2]\ndevices: [h100-sxm]\nbatch: [" +
                 ", ".join(["-1"] * 5000) + "]\n")
    with pytest.raises(ValueError, match="'batch' must be positive integers") as info:
        load_grid(path)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("text, words", [
    ("models: [gpt2\ndevices: [h100-sxm]\n", "broken YAML at line"),
    ("models: [gpt2]\ndevices: [h100-sxm]\nmodels: [bert-base]\n", "'models' appears twice"),
    ("models: [gpt2]\ndevices: [h100-sxm]\nplans: " + "[" * 3000 + "]" * 3000 + "\n",
     "deep|depth"),
    ("models: [gpt2]\ndevices: [h100-sxm]\nvariants: " + "{a: " * 200 + "1" + "}" * 200 + "\n",
     "deep"),
    ("models: [gpt2]\ndevices: [h100-sxm]\n1: x\n", "unknown grid key"),
])
def test_broken_grids_are_one_sentence(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=words) as info:
        load_grid(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_grid_beyond_any_run_is_refused_before_it_is_built():
    raw = {"models": ["gpt2"], "devices": ["h100-sxm"], "batch": list(range(1, 102)),
           "seq": list(range(1, 101)),
           "variants": {"mem_bw": [1 + i / 100 for i in range(100)],
                        "matrix": [1 + i / 100 for i in range(100)]}}
    start = time.perf_counter()
    with pytest.raises(ValueError, match="101,000,000 points.*at most") as info:
        grid_from_dict(raw, "big.yaml")
    assert time.perf_counter() - start < 1.0 and MAX_POINTS < 10 ** 8 + 1
    assert "GB of results" in str(info.value)


def test_the_cli_refuses_a_huge_grid_with_its_estimate(tmp_path, capsys):
    """The repro: a 10^7-point grid started silently (3.4 GB, nothing printed for minutes)."""
    path = write(tmp_path, "models: [gpt2]\ndevices: [h100-sxm]\nbatch: [1, 2, 4, 8, 16, 32, 64,"
                 " 128, 256, 512]\nseq: [128, 256, 512, 1024]\nvariants:\n"
                 "  mem_bw: [" + ", ".join(f"{1 + i / 1000:g}" for i in range(500)) + "]\n"
                 "  matrix: [" + ", ".join(f"{1 + i / 1000:g}" for i in range(500)) + "]\n")
    start = time.perf_counter()
    code = archsim.main(["sweep", "--grid", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - start < 5
    assert "10,000,000 points in 40 workload shape(s)" in err and "--max-points" in err
    assert not (tmp_path / "out").exists()


def test_a_small_sweep_prints_its_estimate_first(tmp_path, capsys):
    path = write(tmp_path, "models: [gpt2]\ndevices: [h100-sxm]\nseq: [128]\n")
    assert archsim.main(["sweep", "--grid", str(path), "--out", str(tmp_path / "out"),
                         "--no-progress", "--workers", "1"]) == 0
    assert capsys.readouterr().err.startswith("sweep: 1 points in 1 workload shape(s)")


def test_a_damaged_manifest_names_the_file(tmp_path):
    out = tmp_path / "results.parquet"
    out.mkdir()
    (out / "_sweep.json").write_bytes(b"\xff\xfe{not json")
    with pytest.raises(ValueError, match="_sweep.json: the sweep's manifest is damaged"):
        ResultStore(out, "{}")
