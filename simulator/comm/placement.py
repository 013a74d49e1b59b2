"""Where a communication group sits on a system, and which link levels its traffic crosses.

A group of `size` devices at `stride` holds devices 0, stride, 2*stride, ... Tensor-parallel
groups are consecutive (stride 1, inside a node); data-parallel groups stride over the inner
dimensions and usually cross nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

from hwspecs.schema import LinkLevel, System

# NB: a group is placed from device 0, so it starts at a node boundary (Megatron's rank order:
# TP innermost); a group that straddles a boundary it could have avoided is not modelled.


@dataclass(frozen=True)
class Placement:
    """A group's members as one member sees them, level by level (innermost first).

    `counts[i]` is how many members share this member's domain of `levels[i]` (the devices that
    level connects: 8 in a DGX node for NVLink); the last level is the slowest the group crosses
    and holds all `size` members.
    """

    size: int
    stride: int
    levels: tuple[LinkLevel, ...]
    counts: tuple[int, ...]

    @property
    def level(self) -> LinkLevel:
        """The slowest level the group crosses."""
        return self.levels[-1]

    @property
    def latency_s(self) -> float:
        """One step's latency: a step waits on the slowest hop."""
        return self.level.latency_s

    def peers(self, i: int) -> int:
        """Members first reached through level i (not through any inner level)."""
        return self.counts[i] - (self.counts[i - 1] if i > 0 else 1)

    def used(self) -> list[int]:
        """Indices of the levels that carry some of the group's traffic."""
        return [i for i in range(len(self.levels)) if self.peers(i) > 0]

    def link_bw_bytes_per_s(self, i: int, partners: int | None = None) -> float:
        """Achievable per-device, per-direction bandwidth of level i toward `partners` members
        at once (default: every other member in the domain)."""
        level = self.levels[i]
        bw = level.bw_bytes_per_s * level.efficiency
        if level.topology in ("fully_connected", "mesh") and level.group_size > 1:
            # NB: a direct-link mesh splits a device's bandwidth over links to every peer; a
            # group only uses the links to its own members (traffic is not relayed).
            talk = self.counts[i] - 1 if partners is None else partners
            bw *= min(1.0, talk / (level.group_size - 1))
        # NB: ring and torus topologies are treated like a switch: the full per-device
        # bandwidth is available to any group (optimistic for a sub-ring of a torus).
        return bw

    def ring_bw_bytes_per_s(self) -> float:
        """Bandwidth of a ring over the group, limited by its slowest crossing.

        Where a level's domains are left, the ring's traffic is spread over the links of all
        members inside one inner domain (one channel per NIC, as NCCL does), so a ring across
        nodes with g members per node runs at up to g times one device's NIC bandwidth.
        """
        return min((self.counts[i - 1] if i > 0 else 1) * self.link_bw_bytes_per_s(i)
                   for i in self.used())

    def split(self) -> tuple[Placement, Placement] | None:
        """(inside one inner domain, one member per inner domain) for a hierarchical
        collective, or None where the group does not split evenly across two levels."""
        if len(self.levels) < 2:
            return None
        g = self.counts[-2]
        inner_domain = self.levels[-2].group_size
        if g < 2 or g == self.size or self.size % g or inner_domain % self.stride:
            return None
        return _place(self.levels, g, self.stride), \
            _place(self.levels, self.size // g, self.stride * g)


def place(system: System, size: int, stride: int = 1) -> Placement:
    """The placement of a group of `size` devices at `stride` on `system` (size >= 2)."""
    size, stride = check_group(size, stride)
    return place_on(system.levels, system.num_devices, system.name, size, stride)


def place_on(levels: tuple[LinkLevel, ...], num_devices: int, system_name: str, size: int,
             stride: int) -> Placement:
    """`place` on a system's parts (hashable, for caching); size and stride already checked."""
    span = (size - 1) * stride + 1
    if span > num_devices or not levels:
        raise ValueError(f"a group of {size} devices at stride {stride} spans {span} devices; "
                         f"system {system_name!r} has {num_devices}")
    return _place(levels, size, stride)


def _place(levels: tuple[LinkLevel, ...], size: int, stride: int) -> Placement:
    span = (size - 1) * stride + 1
    last = next(i for i, lv in enumerate(levels) if span <= lv.group_size)
    used = levels[: last + 1]
    counts = tuple(min(size, (lv.group_size - 1) // stride + 1) for lv in used)
    return Placement(size=size, stride=stride, levels=used, counts=counts)


def check_group(size: int, stride: int) -> tuple[int, int]:
    """(size, stride) as ints; a clear error where either is not a whole number >= 1."""
    if type(size) is int and type(stride) is int and size >= 1 and stride >= 1:
        return size, stride     # the common case, without the slower Integral check
    for name, value in (("group_size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    return int(size), int(stride)
