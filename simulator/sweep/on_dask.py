"""Run sweep chunks on a Dask distributed cluster: a LocalCluster, or a scheduler address.

Each chunk is one task with retries, so a lost worker costs only the chunks it was running;
results come back to this process, which writes each to the results folder as it arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

_RETRIES = 3


def _client(address: str, workers: int | None, processes: bool):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("--dask needs dask[distributed]: pip install 'dask[distributed]'") \
            from None
    if address == "local":
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                               processes=processes, dashboard_address=None)
        return Client(cluster), cluster
    if "://" not in address:
        raise ValueError(f"--dask takes 'local' or a scheduler address like tcp://host:8786, "
                         f"not {address!r}")
    return Client(address), None


def run_on_dask(address: str, fn: Callable, jobs: Sequence[tuple[Any, ...]],
                on_result: Callable[[Any], None], workers: int | None = None,
                processes: bool = True) -> None:
    """Submit fn(*job) for every job; call on_result for each result as it finishes."""
    from dask.distributed import as_completed

    client, cluster = _client(address, workers, processes)
    try:
        futures = [client.submit(fn, *job, retries=_RETRIES, pure=False) for job in jobs]
        for future in as_completed(futures):
            on_result(future.result())
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
