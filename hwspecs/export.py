"""Devices and systems as plain dicts in SI units, keys named with their unit."""

from __future__ import annotations

from typing import Any

from hwspecs.schema import RENT_BASIS, DeviceSpec, System


def _by_dtype(table) -> dict[str, float]:
    return {d.value: v for d, v in table.items()}


def device_to_dict(d: DeviceSpec) -> dict[str, Any]:
    up, out, eff = d.scale_up, d.scale_out, d.defaults
    return {
        "name": d.name,
        "display_name": d.display_name,
        "vendor": d.vendor,
        "form_factor": d.form_factor,
        "peak_flops_per_s": _by_dtype(d.matrix_peak_flops_per_s),
        "sparse_peak_flops_per_s": _by_dtype(d.matrix_sparse_peak_flops_per_s),
        "vector_peak_flops_per_s": _by_dtype(d.vector_peak_flops_per_s),
        "weight_only_formats": sorted(x.value for x in d.weight_only_formats),
        "mem_capacity_bytes": d.mem_capacity_bytes,
        "mem_bw_bytes_per_s": d.mem_bw_bytes_per_s,
        "l2_bytes": d.l2_bytes,
        "compute_units": d.compute_units,
        "compute_unit_name": d.compute_unit_name,
        "clock_hz": d.clock_hz,
        "scale_up": None if up is None else {
            "name": up.name, "bw_bytes_per_s": up.bw_bytes_per_s, "latency_s": up.latency_s,
            "domain_size": up.domain_size, "topology": up.topology,
            "in_network_reduction": up.in_network_reduction},
        "scale_out": None if out is None else {
            "fabric": out.fabric, "bw_bytes_per_s": out.bw_bytes_per_s,
            "latency_s": out.latency_s},
        "pcie_bw_bytes_per_s": d.pcie_bw_bytes_per_s,
        "tdp_w": d.tdp_w,
        "idle_w": d.idle_w,
        "purchase_price_usd": d.purchase_price_usd,
        "rent_usd_per_hour": d.rent_usd_per_hour,
        "rent_provider": d.rent_provider,
        "rent_basis": RENT_BASIS,
        "defaults_until_calibrated": {
            "kernel_overhead_s": eff.kernel_overhead_s,
            "matrix_fraction": eff.matrix_fraction,
            "vector_fraction": eff.vector_fraction,
            "memory_fraction": eff.memory_fraction,
            "scale_up_fraction": eff.scale_up_fraction,
            "scale_out_fraction": eff.scale_out_fraction,
        },
        "sources": dict(d.sources),
        "not_sourced": dict(d.not_sourced),
        "path": d.path,
    }


def system_to_dict(s: System) -> dict[str, Any]:
    return {
        "name": s.name,
        "display_name": s.display_name,
        "device": s.device.name,
        "devices_per_node": s.devices_per_node,
        "nodes": s.nodes,
        "num_devices": s.num_devices,
        "levels": [{
            "name": lv.name, "group_size": lv.group_size, "bw_bytes_per_s": lv.bw_bytes_per_s,
            "latency_s": lv.latency_s, "topology": lv.topology,
            "in_network_reduction": lv.in_network_reduction, "efficiency": lv.efficiency,
        } for lv in s.levels],
        "sources": dict(s.sources),
        "path": s.path,
    }
