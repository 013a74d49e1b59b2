"""Declarative rules for spec YAML: allowed keys, types, units and plausible ranges.

Ranges are in SI and wide (they catch a wrong unit, a typo or a sign, not a bold design):
3350 TB/s of memory bandwidth fails, 33.5 TB/s for a future part passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwspecs.dtypes import MATRIX_DTYPES, VECTOR_DTYPES, WEIGHT_ONLY_DTYPES
from hwspecs.schema import TOPOLOGIES


@dataclass(frozen=True)
class Rule:
    kind: str                    # sourced | str | bool | choice | cited (a sourced fact)
    lo: float = 0.0              # SI, inclusive
    hi: float = float("inf")     # SI, inclusive
    required: bool = False
    integer: bool = False
    dated: bool = False          # a price: needs `date` beside `source`
    provider: bool = False       # a rent: names the cloud whose list price it is
    choices: tuple[str, ...] = ()
    unit: str | None = None      # None: the key's own suffix names the unit
    positive: bool = False       # lo is exclusive


def _num(lo: float, hi: float, **kw) -> Rule:
    return Rule("sourced", lo=lo, hi=hi, **kw)


_FLOPS = dict(lo=1e9, hi=1e17)           # 1 GFLOP/s .. 100 PFLOP/s per device
_LINK_BW = dict(lo=1e8, hi=1e13)         # 100 MB/s .. 10 TB/s per direction
_LATENCY = dict(lo=1e-9, hi=1e-2)        # 1 ns .. 10 ms
_FRACTION = dict(lo=0.0, hi=1.0, unit="fraction", positive=True)

REQUIRED_STR = Rule("str", required=True)
OPTIONAL_STR = Rule("str")

DEVICE_RULES: dict[str, object] = {
    "name": REQUIRED_STR,
    "display_name": REQUIRED_STR,
    "vendor": REQUIRED_STR,
    "form_factor": OPTIONAL_STR,
    "notes": OPTIONAL_STR,
    "matrix_dense_TFLOPS": {d.value: _num(**_FLOPS) for d in MATRIX_DTYPES},
    "matrix_sparse_TFLOPS": {d.value: _num(**_FLOPS) for d in MATRIX_DTYPES},
    "vector_TFLOPS": {d.value: _num(**_FLOPS) for d in VECTOR_DTYPES},
    # Block-scaled weight formats the device's kernels widen to a matrix format they compute
    # in (W4A16, W4A8) without a matrix peak of their own: {source: ..., note: ...} each.
    "weight_only_formats": {d.value: Rule("cited") for d in WEIGHT_ONLY_DTYPES},
    "memory": {
        "capacity_GB": _num(1e8, 1e13, required=True),
        "bw_TBps": _num(1e9, 1e14, required=True),
        "l2_MB": _num(1e5, 1e10),
    },
    "compute": {
        "units": _num(1, 1e6, integer=True, unit="count"),
        "unit_name": OPTIONAL_STR,
        "clock_MHz": _num(1e8, 1e10),
    },
    "scale_up": {
        "name": REQUIRED_STR,
        "bw_per_direction_GBps": _num(**_LINK_BW, required=True),
        "latency_us": _num(**_LATENCY),
        "domain_size": _num(1, 1e5, integer=True, unit="count", required=True),
        "topology": Rule("choice", choices=TOPOLOGIES, required=True),
        "in_network_reduction": Rule("bool"),
    },
    "scale_out": {
        "fabric": REQUIRED_STR,
        "nic_bw_Gbps": _num(**_LINK_BW, required=True),
        "latency_us": _num(**_LATENCY),
    },
    "pcie": {
        "generation": Rule("str"),
        "bw_per_direction_GBps": _num(1e8, 1e12, required=True),
    },
    "power": {
        "tdp_W": _num(1, 1e5),
        "idle_W": _num(0, 1e5),
    },
    "price": {
        "purchase_usd": _num(1, 1e8, dated=True),
        # On the one basis of `schema.RENT_BASIS`, the cloud named in `provider`.
        "rent_usd_per_hour": _num(0.01 / 3600, 1e3 / 3600, dated=True, provider=True),
    },
    "defaults_until_calibrated": {
        "kernel_overhead_us": _num(0, 1e-3, required=True),
        "matrix_fraction": _num(**_FRACTION, required=True),
        "vector_fraction": _num(**_FRACTION, required=True),
        "memory_fraction": _num(**_FRACTION, required=True),
        "scale_up_fraction": _num(**_FRACTION, required=True),
        "scale_out_fraction": _num(**_FRACTION, required=True),
    },
}
REQUIRED_DEVICE_SECTIONS = ("matrix_dense_TFLOPS", "memory", "defaults_until_calibrated")

SYSTEM_RULES: dict[str, object] = {
    "name": REQUIRED_STR,
    "display_name": REQUIRED_STR,
    "device": REQUIRED_STR,
    "notes": OPTIONAL_STR,
    "devices_per_node": _num(1, 1e5, integer=True, unit="count", required=True),
    "nodes": _num(1, 1e6, integer=True, unit="count", required=True),
    # Overrides the device's own scale-up link (e.g. a 72-GPU NVLink domain).
    "scale_up": DEVICE_RULES["scale_up"],
    "scale_out": DEVICE_RULES["scale_out"],
}
REQUIRED_SYSTEM_SECTIONS: tuple[str, ...] = ()
