"""Sweeps end to end: Parquet chunks, resume after a stop, a process pool, the summary."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("pyarrow", reason="Parquet results need pyarrow (a sweep dependency)")

import simulator.sweep.run as sweep_module  # noqa: E402
from simulator.sweep.chunk import evaluate_chunk  # noqa: E402
from simulator.sweep.grid import grid_from_dict  # noqa: E402
from simulator.sweep.run import best_points, pareto_front, run_sweep  # noqa: E402

GRID = {"models": ["gpt2"], "phases": ["decode"], "batch": [1, 2], "context": [64, 128],
        "devices": ["h100-sxm", "mi300x"], "variants": {"mem_bw": [0.5, 1, 2]},
        "precisions": ["bf16", "fp8"]}


@pytest.fixture(scope="module")
def grid():
    return grid_from_dict(GRID)


@pytest.fixture(scope="module")
def one_run(grid, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "results.parquet"
    return run_sweep(grid, out, workers=1, progress=False), out


def test_results_are_the_chunks_in_order_one_file_each(grid, one_run):
    run, out = one_run
    expected = pd.concat([evaluate_chunk(grid, k) for k in grid.chunks()], ignore_index=True)
    pd.testing.assert_frame_equal(run.frame, expected, check_exact=True)
    assert len(run.frame) == grid.num_points == 4 * 2 * 3 * 2
    assert sorted(p.name for p in out.glob("part-*.parquet")) == [
        f"part-{i:05d}.parquet" for i in range(4)]
    pd.testing.assert_frame_equal(pd.read_parquet(out), run.frame, check_exact=True)
    assert run.computed == run.chunks == 4


def test_a_stopped_sweep_resumes_to_the_same_results(grid, one_run, tmp_path, monkeypatch):
    out = tmp_path / "results.parquet"
    calls = []

    def stop_on_third(g, key):
        calls.append(key.index)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return evaluate_chunk(g, key)

    monkeypatch.setattr(sweep_module, "evaluate_chunk", stop_on_third)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(grid, out, workers=1, progress=False)
    assert len(list(out.glob("part-*.parquet"))) == 2
    (out / ".part-00002.parquet.999.tmp").write_bytes(b"half a chunk")  # a write cut short
    monkeypatch.setattr(sweep_module, "evaluate_chunk", evaluate_chunk)
    again = run_sweep(grid, out, workers=1, progress=False)
    assert again.computed == 2
    pd.testing.assert_frame_equal(again.frame, one_run[0].frame, check_exact=True)
    finished = run_sweep(grid, out, workers=1, progress=False)
    assert finished.computed == 0


def test_a_process_pool_gives_the_same_results(grid, one_run, tmp_path):
    run = run_sweep(grid, tmp_path / "pool.parquet", workers=2, progress=False)
    pd.testing.assert_frame_equal(run.frame, one_run[0].frame, check_exact=True)


def test_a_results_folder_of_another_grid_is_refused(one_run):
    other = grid_from_dict({**GRID, "batch": [4]})
    with pytest.raises(ValueError, match="holds a different grid"):
        run_sweep(other, one_run[1], workers=1, progress=False)


def test_an_unknown_device_fails_before_any_work(tmp_path):
    bad = grid_from_dict({**GRID, "devices": ["h100-sxm", "h900"]})
    with pytest.raises(LookupError, match="unknown device 'h900'"):
        run_sweep(bad, tmp_path / "r.parquet", workers=1, progress=False)
    assert not (tmp_path / "r.parquet").exists()


def _frame(rows):
    base = {"phase": "prefill", "batch": 1, "seq": 8, "context": 0, "device": "d",
            "precision": "p", "variant": "base", "feasible": True, "error": "",
            "tokens_per_s": 1.0, "j_per_token": 1.0}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_the_pareto_front_keeps_only_undominated_points():
    frame = _frame([
        {"model": "m", "variant": "a", "time_s": 1.0, "usd_per_1m_tokens": 5.0},
        {"model": "m", "variant": "b", "time_s": 2.0, "usd_per_1m_tokens": 3.0},
        {"model": "m", "variant": "c", "time_s": 3.0, "usd_per_1m_tokens": 4.0},  # beaten by b
        {"model": "m", "variant": "d", "time_s": 4.0, "usd_per_1m_tokens": 1.0},
        {"model": "m", "variant": "e", "time_s": 0.5, "usd_per_1m_tokens": 0.1,
         "feasible": False},                                                    # out of memory
    ])
    front = pareto_front(frame)
    assert list(front["variant"]) == ["a", "b", "d"]


def test_best_points_per_model_and_metric():
    frame = _frame([
        {"model": "m", "variant": "fast", "time_s": 1.0, "usd_per_1m_tokens": 9.0,
         "tokens_per_s": 10.0},
        {"model": "m", "variant": "cheap", "time_s": 5.0, "usd_per_1m_tokens": 1.0},
        {"model": "n", "variant": "only", "time_s": 2.0, "usd_per_1m_tokens": 2.0},
    ])
    best = best_points(frame).set_index(["model", "metric"])["variant"]
    assert best[("m", "time_s")] == "fast" and best[("m", "usd_per_1m_tokens")] == "cheap"
    assert best[("m", "tokens_per_s")] == "fast" and best[("n", "time_s")] == "only"


def _cli(capsys, *argv):
    import archsim

    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sweep_writes_results_and_prints_the_summary(tmp_path, capsys, one_run):
    import json

    import yaml

    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text(yaml.safe_dump(GRID))
    out = tmp_path / "r.parquet"
    code, text, _ = _cli(capsys, "sweep", "--grid", str(grid_file), "--out", str(out),
                         "--workers", "1", "--no-progress", "--json")
    assert code == 0
    data = json.loads(text)
    assert data["points"] == 48 and data["computed_chunks"] == 4
    assert {r["metric"] for r in data["best"]} >= {"time_s", "usd_per_1m_tokens"}
    assert data["pareto"] and all(r["model"] == "gpt2" for r in data["pareto"])
    pd.testing.assert_frame_equal(pd.read_parquet(out), one_run[0].frame, check_exact=True)
    code, text, _ = _cli(capsys, "sweep", "--grid", str(grid_file), "--out", str(out),
                         "--no-progress")
    assert code == 0 and "0 of 4 chunks computed now" in text and "Pareto front" in text


def test_cli_sweep_bad_grid_is_one_line_and_exit_2(tmp_path, capsys):
    grid_file = tmp_path / "grid.yaml"
    grid_file.write_text("models: [gpt2]\ndevices: [h100-sxm]\nvariants: {hbm: [2]}\n")
    code, _, err = _cli(capsys, "sweep", "--grid", str(grid_file), "--out",
                        str(tmp_path / "r.parquet"))
    assert code == 2 and "unknown variant factor 'hbm'" in err
