"""Turn a validated spec (`load.Checked`) into the frozen SI types, checking invariants."""

from __future__ import annotations

from pathlib import Path

from hwspecs.errors import SpecError
from hwspecs.load import Checked, check_device, check_system, dtype_table
from hwspecs.schema import (
    DeviceSpec,
    EfficiencyDefaults,
    LinkLevel,
    ScaleOut,
    ScaleUp,
    System,
)


def device_from_file(path: str | Path) -> DeviceSpec:
    return device_from_checked(check_device(path))


def device_from_checked(c: Checked) -> DeviceSpec:
    dense = dtype_table(c, "matrix_dense_TFLOPS")
    sparse = dtype_table(c, "matrix_sparse_TFLOPS")
    if not dense:
        raise SpecError(c.path, "matrix_dense_TFLOPS", "needs at least one dtype")
    for dtype, peak in sparse.items():
        if dtype in dense and peak < dense[dtype]:
            raise SpecError(c.path, f"matrix_sparse_TFLOPS.{dtype.value}",
                            "is below the dense peak; is a sparse figure filed as dense?")
    tdp, idle = c.get("power.tdp_W"), c.get("power.idle_W")
    if idle is not None and tdp is not None and idle > tdp:
        raise SpecError(c.path, "power.idle_W", f"{idle:g} W is above the TDP {tdp:g} W")
    stem = Path(c.path).stem
    if stem != c.get("name"):
        raise SpecError(c.path, "name", f"{c.get('name')!r} must match the file name {stem!r}")
    return DeviceSpec(
        name=c.get("name"),
        display_name=c.get("display_name"),
        vendor=c.get("vendor"),
        form_factor=c.get("form_factor", ""),
        matrix_peak_flops_per_s=dense,
        matrix_sparse_peak_flops_per_s=sparse,
        vector_peak_flops_per_s=dtype_table(c, "vector_TFLOPS"),
        mem_capacity_bytes=c.get("memory.capacity_GB"),
        mem_bw_bytes_per_s=c.get("memory.bw_TBps"),
        l2_bytes=c.get("memory.l2_MB"),
        compute_units=c.get("compute.units"),
        compute_unit_name=c.get("compute.unit_name", "SM"),
        clock_hz=c.get("compute.clock_MHz"),
        scale_up=_scale_up(c),
        scale_out=_scale_out(c),
        pcie_bw_bytes_per_s=c.get("pcie.bw_per_direction_GBps"),
        tdp_w=tdp,
        idle_w=idle,
        purchase_price_usd=c.get("price.purchase_usd"),
        rent_usd_per_s=c.get("price.rent_usd_per_hour"),
        rent_provider=c.get("price.rent_usd_per_hour:provider", ""),
        defaults=EfficiencyDefaults(
            kernel_overhead_s=c.get("defaults_until_calibrated.kernel_overhead_us"),
            matrix_fraction=c.get("defaults_until_calibrated.matrix_fraction"),
            vector_fraction=c.get("defaults_until_calibrated.vector_fraction"),
            memory_fraction=c.get("defaults_until_calibrated.memory_fraction"),
            scale_up_fraction=c.get("defaults_until_calibrated.scale_up_fraction"),
            scale_out_fraction=c.get("defaults_until_calibrated.scale_out_fraction"),
        ),
        sources=dict(c.sources),
        not_sourced=dict(c.not_sourced),
        path=c.path,
        weight_only_formats=frozenset(dtype_table(c, "weight_only_formats")),
    )


# NB: a link or NIC without a published latency gets none added (alpha = 0 understates
# small messages); the spec lists it under not_sourced.
def _scale_up(c: Checked) -> ScaleUp | None:
    if not c.section("scale_up"):
        return None
    return ScaleUp(
        name=c.get("scale_up.name"),
        bw_bytes_per_s=c.get("scale_up.bw_per_direction_GBps"),
        latency_s=c.get("scale_up.latency_us", 0.0),
        domain_size=c.get("scale_up.domain_size"),
        topology=c.get("scale_up.topology"),
        in_network_reduction=c.get("scale_up.in_network_reduction", False),
    )


def _scale_out(c: Checked) -> ScaleOut | None:
    if not c.section("scale_out"):
        return None
    return ScaleOut(
        fabric=c.get("scale_out.fabric"),
        bw_bytes_per_s=c.get("scale_out.nic_bw_Gbps"),
        latency_s=c.get("scale_out.latency_us", 0.0),
    )


def system_from_file(path: str | Path, find_device) -> System:
    """`find_device(name)` resolves the system's device by name."""
    c = check_system(path)
    stem = Path(c.path).stem
    if stem != c.get("name"):
        raise SpecError(c.path, "name", f"{c.get('name')!r} must match the file name {stem!r}")
    try:
        device = find_device(c.get("device"))
    except (LookupError, ValueError) as exc:
        raise SpecError(c.path, "device", str(exc)) from None
    up = _scale_up(c) or device.scale_up
    out = _scale_out(c) or device.scale_out
    per_node, nodes = c.get("devices_per_node"), c.get("nodes")
    if up is not None and per_node > up.domain_size:
        raise SpecError(c.path, "devices_per_node", f"{per_node} is larger than the scale-up "
                        f"domain ({up.domain_size})")
    if nodes > 1 and out is None:
        raise SpecError(c.path, "scale_out", "is missing: more than one node needs a fabric")
    return make_system(c.get("name"), c.get("display_name"), device, per_node, nodes, up, out,
                       sources=dict(c.sources), path=c.path)


def make_system(name: str, display_name: str, device: DeviceSpec, devices_per_node: int,
                nodes: int, up: ScaleUp | None, out: ScaleOut | None,
                sources: dict[str, str] | None = None, path: str = "") -> System:
    levels: list[LinkLevel] = []
    d = device.defaults
    if devices_per_node > 1:
        if up is None:
            raise ValueError(f"{name}: {devices_per_node} devices per node need a scale-up link")
        levels.append(LinkLevel(up.name, devices_per_node, up.bw_bytes_per_s, up.latency_s,
                                up.topology, up.in_network_reduction, d.scale_up_fraction))
    if out is not None and (nodes > 1 or not levels):
        levels.append(LinkLevel(out.fabric, devices_per_node * nodes, out.bw_bytes_per_s,
                                out.latency_s, "switch", False, d.scale_out_fraction))
    return System(name=name, display_name=display_name, device=device,
                  devices_per_node=devices_per_node, nodes=nodes, levels=tuple(levels),
                  sources=sources or {}, path=path)
