"""The same sweep on a Dask LocalCluster equals the local run."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("pyarrow", reason="Parquet results need pyarrow (a sweep dependency)")
distributed = pytest.importorskip("dask.distributed",
                                  reason="the Dask path needs dask[distributed]")

from simulator.sweep.grid import grid_from_dict  # noqa: E402
from simulator.sweep.run import run_sweep  # noqa: E402


def test_dask_local_cluster_equals_the_local_run(tmp_path):
    grid = grid_from_dict({
        "models": ["gpt2"], "phases": ["prefill", "decode"], "batch": [1, 3], "seq": [32],
        "context": [96], "devices": ["h100-sxm", "b200"],
        "variants": {"matrix": [1, 2], "mem_capacity": [0.5, 1]}, "precisions": ["bf16"]})
    # Locally first: the traces are then cached, and the threads only re-shape them.
    local = run_sweep(grid, tmp_path / "local.parquet", workers=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(grid, tmp_path / "dask.parquet", dask=cluster.scheduler_address,
                           progress=False)
        assert len(cluster.workers) == 2
    assert remote.computed == 4
    pd.testing.assert_frame_equal(remote.frame, local.frame, check_exact=True)
