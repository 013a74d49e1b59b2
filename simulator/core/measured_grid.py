"""Interpolation in measured kernel times: scattered shapes, in log space.

A table of measured kernels (a GEMM's m, n, k; an attention's batch x heads, lengths and head
size; a collective's message bytes) is a cloud of points, a sample of the shapes the tables
were measured on, not a full product grid. `LogGrid` holds one such cloud: the shape columns
as log2 coordinates and log2 seconds as the value. A query shape is priced by a local linear
fit in log space over its nearest measured shapes (weighted by inverse squared distance, a
small ridge on the slopes so a flat neighbourhood falls back to their weighted mean): a power
law (time ~ m x n x k) is reproduced exactly, and a measured shape returns its own time. A
table of one coordinate (a collective's message bytes) is the same fit over the two measured
points around the query: piecewise linear in log-log.

A query is covered when every coordinate lies inside the measured range widened by
`MARGIN_LOG2` on each side and its nearest measured shape is at most `NEAREST_LOG2` away
(Euclidean, in log2 units: 1.0 is a factor of 2 along one axis); elsewhere the caller prices
it with the fitted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

# A shape may lie this far (log2: a factor of 2**0.5 = 1.41) outside the measured range along
# each axis and still be priced from the measurements (a local linear extrapolation).
MARGIN_LOG2 = 0.5
# ... and its nearest measured shape must be at most this far (log2 units; a factor of 4
# along one axis, or 2.8 along two).
NEAREST_LOG2 = 2.0
_RIDGE = 1e-7          # relative to the neighbours' total weight
_EPS = 1e-9


@dataclass(frozen=True)
class Lookup:
    """log2 seconds per query, and whether each is covered by the measurements."""

    log2_s: np.ndarray
    inside: np.ndarray      # inside the widened range on every axis
    near: np.ndarray        # the nearest measured shape within NEAREST_LOG2

    @property
    def covered(self) -> np.ndarray:
        return self.inside & self.near

    @property
    def seconds(self) -> np.ndarray:
        return np.exp2(self.log2_s)


class LogGrid:
    """One table's measured shapes (N, d) and seconds (N,), ready to interpolate."""

    def __init__(self, shapes: np.ndarray, seconds: np.ndarray, neighbours: int | None = None):
        x = np.log2(np.atleast_2d(np.asarray(shapes, dtype=float)))
        y = np.log2(np.asarray(seconds, dtype=float))
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError("a measured grid needs one time per shape and at least one shape")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError("measured shapes and times must be positive and finite")
        # Shapes measured more than once (another dtype of the same message, a repeat) are
        # one point at the mean of their log times.
        points, inverse = np.unique(x, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        self.points = points
        self.values = np.bincount(inverse, weights=y) / np.bincount(inverse)
        self.lo, self.hi = points.min(axis=0), points.max(axis=0)
        d = points.shape[1]
        self.neighbours = min(len(points), neighbours or 2 * (d + 1))
        self._tree = cKDTree(points)

    def __len__(self) -> int:
        return len(self.points)

    def lookup(self, shapes: np.ndarray, leave_out: bool = False) -> Lookup:
        """Interpolated times of `shapes` (Q, d); `leave_out`: each query's own measured point
        is left out (the leave-one-out error of the interpolation)."""
        q = np.log2(np.atleast_2d(np.asarray(shapes, dtype=float)))
        if len(q) == 0:
            empty = np.zeros(0)
            return Lookup(empty, empty.astype(bool), empty.astype(bool))
        if self.points.shape[1] == 1 and len(self.points) >= 3:
            return self._segments(q[:, 0], leave_out)
        k = min(self.neighbours + int(leave_out), len(self.points))
        dist, idx = self._tree.query(q, k=k)
        dist, idx = dist.reshape(len(q), k), idx.reshape(len(q), k)
        if leave_out:
            dist, idx = dist[:, 1:], idx[:, 1:]
        if dist.shape[1] == 0:
            nan = np.full(len(q), np.nan)
            return Lookup(nan, np.zeros(len(q), bool), np.zeros(len(q), bool))
        log2_s = _local_linear(self.points[idx] - q[:, None, :], self.values[idx], dist)
        inside = ((q >= self.lo - MARGIN_LOG2) & (q <= self.hi + MARGIN_LOG2)).all(axis=1)
        return Lookup(log2_s, inside, dist[:, 0] <= NEAREST_LOG2)


    def _segments(self, q: np.ndarray, leave_out: bool) -> Lookup:
        """One coordinate: linear in log space between the two measured points around each
        query (the local fit over two neighbours, without the search), the end segments
        extended beyond the range; `leave_out` prices each measured point from the points on
        either side of it."""
        x, y, n = self.points[:, 0], self.values, len(self.points)
        if leave_out:
            j = np.clip(np.searchsorted(x, q), 0, n - 1)      # each query's own point
            lo = np.where(j == 0, 1, np.where(j == n - 1, n - 3, j - 1))
            hi = np.where(j == 0, 2, np.where(j == n - 1, n - 2, j + 1))
        else:
            lo = np.clip(np.searchsorted(x, q) - 1, 0, n - 2)
            hi = lo + 1
        log2_s = y[lo] + (q - x[lo]) * (y[hi] - y[lo]) / (x[hi] - x[lo])
        nearest = np.minimum(np.abs(q - x[lo]), np.abs(q - x[hi]))
        inside = (q >= self.lo[0] - MARGIN_LOG2) & (q <= self.hi[0] + MARGIN_LOG2)
        return Lookup(log2_s, inside, nearest <= NEAREST_LOG2)


def _local_linear(offsets: np.ndarray, values: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """The value at the origin of a weighted least-squares plane through each query's
    neighbours: `offsets` (Q, k, d) from the query, `values` (Q, k), `dist` (Q, k)."""
    exact = dist[:, 0] <= _EPS
    w = 1.0 / np.maximum(dist, _EPS) ** 2
    w = w / w.sum(axis=1, keepdims=True)
    design = np.concatenate([np.ones(offsets.shape[:2] + (1,)), offsets], axis=2)
    weighted = design * w[:, :, None]
    normal = np.einsum("qki,qkj->qij", weighted, design)
    ridge = np.full(design.shape[2], _RIDGE)
    ridge[0] = 0.0
    normal = normal + np.diag(ridge)[None, :, :]
    rhs = np.einsum("qki,qk->qi", weighted, values)
    beta = np.linalg.solve(normal, rhs[:, :, None])[:, :, 0]
    return np.where(exact, values[:, 0], beta[:, 0])
