"""Frozen hardware types, in SI units. Built only by `hwspecs.load`, which checks every field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hwspecs.dtypes import DType
from hwspecs.scale import ScaleFactors

# The one basis of every shipped rent (`price.rent_usd_per_hour`, with its `provider`, source
# and date). Where no cloud lists a part, the spec has no rent and says why in not_sourced.
RENT_BASIS = ("on-demand list price per GPU-hour at the named cloud: the whole instance's "
              "hourly list price divided by its GPUs; no spot, reserved, committed-use or "
              "marketplace-floor prices. NVIDIA parts CoreWeave lists are CoreWeave's "
              "(February 2026), AMD parts TensorWave's, TPUs Google Cloud's (one provider "
              "per family, so ratios within it hold); other parts the cloud that lists them, "
              "named in the spec")
TOPOLOGIES = ("switch", "ring", "torus2d", "torus3d", "mesh", "fully_connected")


@dataclass(frozen=True)
class LinkLevel:
    """One level of the communication hierarchy, seen from one device.

    `bw_bytes_per_s` is per device and per direction (NVLink 4: 450 GB/s, not the 900 GB/s
    both ways); `group_size` is how many devices share this level (8 in a DGX node).
    """

    name: str
    group_size: int
    bw_bytes_per_s: float
    latency_s: float
    topology: str
    in_network_reduction: bool
    efficiency: float            # achievable fraction of bw for large collectives

    def __post_init__(self) -> None:
        assert self.group_size >= 1 and self.bw_bytes_per_s > 0 and self.latency_s >= 0
        assert 0 < self.efficiency <= 1 and self.topology in TOPOLOGIES


@dataclass(frozen=True)
class EfficiencyDefaults:
    """Achievable fractions of peak and a per-kernel overhead: defaults until calibrated."""

    kernel_overhead_s: float
    matrix_fraction: float
    vector_fraction: float
    memory_fraction: float
    scale_up_fraction: float
    scale_out_fraction: float

    def __post_init__(self) -> None:
        for name in ("matrix_fraction", "vector_fraction", "memory_fraction",
                     "scale_up_fraction", "scale_out_fraction"):
            assert 0 < getattr(self, name) <= 1, name
        assert self.kernel_overhead_s >= 0


@dataclass(frozen=True)
class ScaleUp:
    name: str
    bw_bytes_per_s: float        # per direction, per device
    latency_s: float
    domain_size: int
    topology: str
    in_network_reduction: bool


@dataclass(frozen=True)
class ScaleOut:
    fabric: str
    bw_bytes_per_s: float        # per device, per direction
    latency_s: float


@dataclass(frozen=True)
class DeviceSpec:
    """One accelerator. Peaks are dense unless the field name says sparse (2:4)."""

    name: str
    display_name: str
    vendor: str
    form_factor: str
    matrix_peak_flops_per_s: Mapping[DType, float]
    matrix_sparse_peak_flops_per_s: Mapping[DType, float]
    vector_peak_flops_per_s: Mapping[DType, float]
    mem_capacity_bytes: float
    mem_bw_bytes_per_s: float
    l2_bytes: float | None
    compute_units: int | None            # SMs, CUs, TensorCores: what a GEMM tiles over
    compute_unit_name: str
    clock_hz: float | None
    scale_up: ScaleUp | None
    scale_out: ScaleOut | None
    pcie_bw_bytes_per_s: float | None
    tdp_w: float | None                  # None where the vendor publishes none
    idle_w: float | None
    purchase_price_usd: float | None
    rent_usd_per_s: float | None
    defaults: EfficiencyDefaults
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)  # YAML path -> citation
    not_sourced: Mapping[str, str] = field(default_factory=dict, repr=False)  # left out -> why
    path: str = ""
    # block-scaled weight formats its kernels dequantize (no matrix peak of their own)
    weight_only_formats: frozenset[DType] = frozenset()
    rent_provider: str = ""              # the cloud whose list price `rent_usd_per_s` is

    def __post_init__(self) -> None:
        assert self.mem_capacity_bytes > 0 and self.mem_bw_bytes_per_s > 0
        assert self.tdp_w is None or self.tdp_w > 0
        assert self.matrix_peak_flops_per_s, "a device needs at least one matrix peak"
        for dtype, sparse in self.matrix_sparse_peak_flops_per_s.items():
            dense = self.matrix_peak_flops_per_s.get(dtype)
            assert dense is None or sparse >= dense, f"sparse {dtype.value} below dense"
        assert self.idle_w is None or self.tdp_w is None or self.idle_w <= self.tdp_w

    @property
    def rent_usd_per_hour(self) -> float | None:
        return None if self.rent_usd_per_s is None else self.rent_usd_per_s * 3600.0

    def matrix_peak(self, dtype: DType, sparse: bool = False) -> float:
        """Matrix-unit peak at a dtype; a clear error where the part has none."""
        table = self.matrix_sparse_peak_flops_per_s if sparse else self.matrix_peak_flops_per_s
        dtype = dtype.matrix_format
        if dtype not in table:
            kind = "2:4-sparse" if sparse else "dense"
            have = ", ".join(d.value for d in table) or "none"
            raise ValueError(f"device {self.name!r} has no {kind} {dtype.value} matrix peak "
                             f"(it has: {have})")
        return table[dtype]

    def vector_peak(self, dtype: DType) -> float:
        """Non-matrix peak: the dtype's vector figure, else fp32's, else the slowest vector
        figure the part publishes, else its slowest matrix peak."""
        return self.vector_peak_entry(dtype)[0]

    def vector_peak_entry(self, dtype: DType) -> tuple[float, str]:
        """`vector_peak` and the scale factor it follows ("vector", or "matrix" where the
        figure is a matrix peak)."""
        table = self.vector_peak_flops_per_s
        for d in (dtype, DType.FP32):
            if d in table:
                return table[d], "vector"
        if table:
            return min(table.values()), "vector"
        # NB: parts that publish no vector figure (TPUs) use their slowest matrix peak.
        return min(self.matrix_peak_flops_per_s.values()), "matrix"

    def check_weight_format(self, dtype: DType) -> None:
        """Refuse block-scaled weights the device neither computes in (a matrix peak) nor
        states weight-only kernels for (`weight_only_formats`), in one sentence."""
        if not dtype.block_scaled or dtype in self.matrix_peak_flops_per_s \
                or dtype in self.weight_only_formats:
            return
        raise ValueError(f"device {self.name!r} runs no {dtype.value} weights: its spec gives "
                         f"no {dtype.value} matrix peak and no weight-only {dtype.value} kernels "
                         "(weight_only_formats)")

    def gemm_peak_entry(self, dtype: DType, sparse: bool = False) -> tuple[float, str]:
        """The peak a matrix kernel at `dtype` runs against, and the scale factor it follows:
        the matrix unit's, or fp32's vector figure where the part has no fp32 matrix mode."""
        table = self.matrix_sparse_peak_flops_per_s if sparse else self.matrix_peak_flops_per_s
        dtype = dtype.matrix_format
        if dtype in table:
            return table[dtype], "matrix"
        if not sparse and dtype is DType.FP32 and DType.FP32 in self.vector_peak_flops_per_s:
            # NB: an fp32 GEMM without a matrix-unit fp32 mode runs on the vector units.
            return self.vector_peak_flops_per_s[DType.FP32], "vector"
        return self.matrix_peak(dtype, sparse), "matrix"  # raises the clear "no ... peak" error

    def scaled(self, factors: ScaleFactors | None = None, **by_name: float) -> DeviceSpec:
        """A what-if copy with rates multiplied (`ScaleFactors`, or its fields by name)."""
        f = ScaleFactors.of(factors if factors is not None else by_name)
        if f.is_identity:
            return self

        def mul(table: Mapping[DType, float], k: float) -> dict[DType, float]:
            return {d: v * k for d, v in table.items()}

        up, out = self.scale_up, self.scale_out
        if up is not None and f.link != 1.0:
            up = replace(up, bw_bytes_per_s=up.bw_bytes_per_s * f.link)
        if out is not None and f.link != 1.0:
            out = replace(out, bw_bytes_per_s=out.bw_bytes_per_s * f.link)
        return replace(
            self,
            matrix_peak_flops_per_s=mul(self.matrix_peak_flops_per_s, f.matrix),
            matrix_sparse_peak_flops_per_s=mul(self.matrix_sparse_peak_flops_per_s, f.matrix),
            vector_peak_flops_per_s=mul(self.vector_peak_flops_per_s, f.vector),
            mem_bw_bytes_per_s=self.mem_bw_bytes_per_s * f.mem_bw,
            mem_capacity_bytes=self.mem_capacity_bytes * f.mem_capacity,
            scale_up=up, scale_out=out,
            purchase_price_usd=None if self.purchase_price_usd is None
            else self.purchase_price_usd * f.price,
            rent_usd_per_s=None if self.rent_usd_per_s is None
            else self.rent_usd_per_s * f.price,
            tdp_w=None if self.tdp_w is None else self.tdp_w * f.power,
            idle_w=None if self.idle_w is None else self.idle_w * f.power,
        )


@dataclass(frozen=True)
class System:
    """Devices, how many, and the link levels between them (innermost first)."""

    name: str
    display_name: str
    device: DeviceSpec
    devices_per_node: int
    nodes: int
    levels: tuple[LinkLevel, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    path: str = ""

    def __post_init__(self) -> None:
        assert self.devices_per_node >= 1 and self.nodes >= 1
        sizes = [lv.group_size for lv in self.levels]
        assert sizes == sorted(sizes), "link levels go from the innermost outwards"

    @property
    def num_devices(self) -> int:
        return self.devices_per_node * self.nodes

    def scaled(self, factors: ScaleFactors | None = None, **by_name: float) -> System:
        """A what-if copy: the device scaled (`DeviceSpec.scaled`) and every link level's
        bandwidth times the `link` factor."""
        f = ScaleFactors.of(factors if factors is not None else by_name)
        if f.is_identity:
            return self
        levels = tuple(replace(lv, bw_bytes_per_s=lv.bw_bytes_per_s * f.link)
                       for lv in self.levels) if f.link != 1.0 else self.levels
        return replace(self, device=self.device.scaled(f), levels=levels)

    def level_for(self, group_span: int) -> LinkLevel:
        """The slowest level a group spanning `group_span` consecutive devices crosses."""
        for level in self.levels:
            if group_span <= level.group_size:
                return level
        raise ValueError(f"system {self.name!r} has {self.num_devices} devices; "
                         f"a group of {group_span} does not fit")
