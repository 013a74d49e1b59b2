"""Routing requests across replicas: round robin, or the one with the fewest outstanding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simulator.serving.scheduler import Replica

ROUTERS = ("round_robin", "least_outstanding")


def check_router(name: str) -> None:
    if name not in ROUTERS:
        raise ValueError(f"unknown router {name!r}; use {' or '.join(ROUTERS)}")


def route(replicas: Sequence[Replica], arrival_s: np.ndarray, router: str,
          ids: np.ndarray | None = None) -> None:
    """Hand every request (`ids`, default 0..n-1, in arrival order) to a replica and run them
    all to the end."""
    check_router(router)
    ids = np.arange(len(arrival_s)) if ids is None else ids
    if router == "round_robin" or len(replicas) == 1:
        # State-independent: each replica runs its own share alone (fast: no lockstep).
        n = len(replicas)
        for i, rep in enumerate(replicas):
            for k in range(i, len(arrival_s), n):
                rep.advance_until(float(arrival_s[k]))
                rep.add(int(ids[k]), float(arrival_s[k]))
            rep.advance_until(np.inf)
        return
    for r, t in zip(ids.tolist(), arrival_s.tolist(), strict=True):
        for rep in replicas:
            rep.advance_until(t)
        # Ties go to the lowest index, so a fixed seed gives one outcome.
        best = min(replicas, key=lambda rep: (rep.outstanding, rep.index))
        best.add(r, t)
    for rep in replicas:
        rep.advance_until(np.inf)
