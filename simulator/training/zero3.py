"""ZeRO-3 / FSDP, layer by layer: when each layer's gather and reduce-scatter run, and what of
them the compute cannot hide.

Each slot (embedding, each layer, the head) is one FSDP unit: its weights are all-gathered
over the data-parallel group before its forward, freed, gathered again before its backward
(and its recomputed forward), and its gradients reduce-scattered after its backward. The
collectives run one after another on the network (one NIC per GPU carries them all; FSDP's
all-gather and reduce-scatter streams share it), in the order they are issued:

- forward: the first `depth` gathers start at once; the gather of unit k + depth is issued
  when unit k starts computing (FSDP's forward_prefetch, DeepSpeed's prefetch bucket), so at
  most 1 + depth units are gathered at a time;
- backward, units in reverse: the gather of the unit `depth` further on is issued when a
  unit's backward starts (BACKWARD_PRE), its reduce-scatter when that backward ends.

A unit computes once its gather has arrived and the previous unit is done. What the schedule
adds to the pure compute time (forward plus backward) is the exposed ZeRO-3 time: a layer
whose gather takes longer than the layer before it computes waits for the difference, the
first gather and the last reduce-scatter wait for nothing.
"""

from __future__ import annotations

import numpy as np


def exposed_s(gather_s: np.ndarray, scatter_s: np.ndarray, fwd_s: np.ndarray,
              bwd_s: np.ndarray, depth: int) -> float:
    """Seconds one micro-batch's forward and backward take beyond their compute, for units in
    forward order (per-unit gather, reduce-scatter, forward and backward seconds)."""
    n = len(gather_s)
    if n == 0:
        return 0.0
    fwd_end = _pass(gather_s, None, fwd_s, depth)
    bwd_end = _pass(gather_s[::-1], scatter_s[::-1], bwd_s[::-1], depth)
    return max(fwd_end - float(np.sum(fwd_s)), 0.0) + max(bwd_end - float(np.sum(bwd_s)), 0.0)


def _pass(gather_s: np.ndarray, scatter_s: np.ndarray | None, compute_s: np.ndarray,
          depth: int) -> float:
    """The end of one pass (compute and its collectives) over units in the order they run."""
    n = len(gather_s)
    g, c = gather_s.tolist(), compute_s.tolist()
    r = scatter_s.tolist() if scatter_s is not None else None
    arrived = [0.0] * n
    network = 0.0                      # when the network is next free
    for k in range(min(depth, n)):
        network += g[k]
        arrived[k] = network
    done = 0.0                         # when the previous unit's compute ended
    for k in range(n):
        start = max(done, arrived[k])
        ahead = k + depth
        if ahead < n:
            network = max(network, start) + g[ahead]
            arrived[ahead] = network
        done = start + c[k]
        if r is not None:
            network = max(network, done) + r[k]
    return max(done, network)
