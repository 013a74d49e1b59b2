"""Collective algorithms in the alpha-beta model, in a registry keyed by (collective, algorithm).

Every algorithm here is linear in the message size S: time = latency + S * seconds-per-byte,
where the latency is a count of steps times the link's alpha and the per-byte term is bytes
over (per-direction bandwidth x the level's achievable efficiency). `size` is NCCL's: the
all-reduce buffer, the gathered output of an all-gather, the input of a reduce-scatter, a
device's whole send buffer for an all-to-all, and the message for a send/receive.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from simulator.comm.placement import Placement

KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")


@dataclass(frozen=True)
class LinearCost:
    """time_s = latency_s + s_per_byte * S; each device sends sent_per_byte * S bytes."""

    latency_s: float
    s_per_byte: float
    sent_per_byte: float

    def __add__(self, other: LinearCost) -> LinearCost:
        return LinearCost(self.latency_s + other.latency_s, self.s_per_byte + other.s_per_byte,
                          self.sent_per_byte + other.sent_per_byte)

    def scaled(self, k: float) -> LinearCost:
        """The same phase run on k times the bytes (latency unchanged)."""
        return LinearCost(self.latency_s, self.s_per_byte * k, self.sent_per_byte * k)


@dataclass(frozen=True)
class Algorithm:
    kind: str
    name: str
    cost: Callable[[Placement], LinearCost]
    why_not: Callable[[Placement], str | None]   # the reason it does not apply, or None
    doc: str


_REGISTRY: dict[tuple[str, str], Algorithm] = {}


def _applies(p: Placement) -> str | None:
    return None


def register(kind: str, name: str,
             why_not: Callable[[Placement], str | None] = _applies) -> Callable:
    """Add a cost function as the algorithm `name` of collective `kind`; a duplicate raises."""
    if kind not in KINDS:
        raise ValueError(f"unknown collective {kind!r}; known: {', '.join(KINDS)}")

    def add(fn: Callable[[Placement], LinearCost]) -> Callable[[Placement], LinearCost]:
        if (kind, name) in _REGISTRY:
            raise ValueError(f"collective algorithm ({kind!r}, {name!r}) is already registered")
        _REGISTRY[(kind, name)] = Algorithm(kind, name, fn, why_not, (fn.__doc__ or "").strip())
        return fn

    return add


def algorithms(kind: str) -> list[Algorithm]:
    """The registered algorithms of a collective, in registration order."""
    check_kind(kind)
    return [a for (k, _), a in _REGISTRY.items() if k == kind]


def algorithm(kind: str, name: str) -> Algorithm:
    check_kind(kind)
    if (kind, name) not in _REGISTRY:
        known = ", ".join(a.name for a in algorithms(kind))
        raise ValueError(f"unknown algorithm {name!r} for {kind}; known: {known}, or auto")
    return _REGISTRY[(kind, name)]


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown collective {kind!r}; known: {', '.join(KINDS)}")


def bus_factor(kind: str, n: int) -> float:
    """NCCL's bus-bandwidth factor: busbw = algbw x factor (nccl-tests PERFORMANCE.md)."""
    if kind == "all_reduce":
        return 2.0 * (n - 1) / n
    if kind == "send_recv":
        return 1.0
    return (n - 1) / n


# ---- building blocks ---------------------------------------------------------------------

def _ring_pass(p: Placement, passes: int) -> LinearCost:
    """`passes` trips of (n-1) steps around a ring, each step moving S/n per device."""
    n = p.size
    share = passes * (n - 1) / n
    return LinearCost(passes * (n - 1) * p.latency_s, share / p.ring_bw_bytes_per_s(), share)


def _no_in_network(p: Placement) -> str | None:
    if len(p.used()) != 1:
        return "the group spans more than one link level (use hierarchical)"
    if not p.level.in_network_reduction:
        return f"{p.level.name} has no in-network reduction"
    return None


def _no_split(p: Placement) -> str | None:
    if p.split() is None:
        return ("the group does not split evenly into more than one member in each of "
                "several inner domains")
    return None


# ---- all-reduce ----------------------------------------------------------------------------

@register("all_reduce", "ring")
def _all_reduce_ring(p: Placement) -> LinearCost:
    """Reduce-scatter then all-gather around a ring: 2(n-1)/n * S / B + 2(n-1) * alpha."""
    return _ring_pass(p, 2)


@register("all_reduce", "tree")
def _all_reduce_tree(p: Placement) -> LinearCost:
    """Pipelined double binary tree (reduce up, broadcast down): 2 * ceil(log2 n) * alpha +
    2 * S / B. Each device sends about S up and S down, so it loses to the ring on bandwidth
    and wins on latency for small messages."""
    # NB: the pipeline's fill (chunk size / B per tree level) and NCCL's intra-node chain are
    # left out; bandwidth is the ring's across levels.
    steps = 2 * math.ceil(math.log2(p.size))
    return LinearCost(steps * p.latency_s, 2.0 / p.ring_bw_bytes_per_s(), 2.0)


@register("all_reduce", "in_network", why_not=_no_in_network)
def _all_reduce_in_network(p: Placement) -> LinearCost:
    """In-network reduction (NVLink SHARP / InfiniBand SHARP): each device sends its S bytes
    once up to the switch, which reduces them, and receives the S reduced bytes once back
    down; up and down run at the same time on the two directions of the link, so
    time = S / B + 2 * alpha (one trip up, one down)."""
    # NB: NVLS also stores each device's reduced S/n slice back through the switch (S/n more
    # each way), and the switch's own reduction throughput is taken as unlimited.
    bw = p.link_bw_bytes_per_s(p.used()[0])
    return LinearCost(2 * p.latency_s, 1.0 / bw, 1.0)


@register("all_reduce", "hierarchical", why_not=_no_split)
def _all_reduce_hierarchical(p: Placement) -> LinearCost:
    """Reduce-scatter inside each inner domain (g members), all-reduce the S/g slices across
    the m domains (in-network where that level has it, else a ring), all-gather inside:
    2(g-1)/g * S / B_in + 2(m-1)/m * S/(g B_out) + 2(g-1) alpha_in + 2(m-1) alpha_out."""
    split = p.split()
    assert split is not None, "hierarchical all-reduce on a group that does not split"
    inner, outer = split
    across = _all_reduce_in_network(outer) if _no_in_network(outer) is None \
        else _ring_pass(outer, 2)
    return _ring_pass(inner, 1) + across.scaled(1.0 / inner.size) + _ring_pass(inner, 1)


# ---- all-gather, reduce-scatter ------------------------------------------------------------

@register("all_gather", "ring")
def _all_gather_ring(p: Placement) -> LinearCost:
    """(n-1) steps, each passing one S/n slice on: (n-1)/n * S / B + (n-1) * alpha."""
    return _ring_pass(p, 1)


@register("reduce_scatter", "ring")
def _reduce_scatter_ring(p: Placement) -> LinearCost:
    """(n-1) steps, each reducing one S/n slice into the next: (n-1)/n * S / B + (n-1) alpha."""
    return _ring_pass(p, 1)


# ---- all-to-all, send/recv -----------------------------------------------------------------

@register("all_to_all", "pairwise")
def _all_to_all_pairwise(p: Placement) -> LinearCost:
    """Each device sends S/n to each of the other n-1. The share for peers first reached
    through level i (k_i of them) crosses that level: the slowest level's k_i/n * S / B_i sets
    the time; one alpha per peer, each at the level that reaches it."""
    # NB: traffic on different levels overlaps fully, while the per-peer latencies add up
    # (pairwise steps in sequence); no hierarchical aggregation of small messages.
    n = p.size
    s_per_byte = max(p.peers(i) / n / p.link_bw_bytes_per_s(i) for i in p.used())
    latency = sum(p.peers(i) * p.levels[i].latency_s for i in p.used())
    return LinearCost(latency, s_per_byte, (n - 1) / n)


@register("send_recv", "direct")
def _send_recv_direct(p: Placement) -> LinearCost:
    """Each member sends S to the next one (a pipeline boundary) while receiving S from the
    previous one: S / B + alpha over the slowest link between neighbours."""
    return LinearCost(p.latency_s, 1.0 / p.link_bw_bytes_per_s(p.used()[-1], 1), 1.0)
