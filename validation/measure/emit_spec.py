"""`archsim bench --emit-spec`: a hwspecs device YAML for the measured device.

Peaks are the best rates measured, not datasheet figures: matrix peak per dtype from the
fastest GEMM, vector peak from the fastest elementwise/norm/softmax kernel, memory bandwidth
from the largest copies, kernel overhead from the fastest kernel. The file is checked with
`hwspecs.load_device` before it is kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hwspecs.dtypes import MATRIX_DTYPES, VECTOR_DTYPES
from validation.measure.records import Measurements, with_rates

MATRIX_KERNELS = ("gemm", "grouped_gemm")
VECTOR_KERNELS = ("elementwise", "norm", "softmax")


class _SpecDumper(yaml.SafeDumper):
    """Writes each sourced number on one line, `{value: .., source: ..}`, as shipped specs do."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                    flow_style="value" in data)


_SpecDumper.add_representer(dict, _represent_dict)


def _sig(value: float, digits: int = 4) -> float:
    return float(f"{value:.{digits}g}")


def _leaf(value: float, source: str, note: str | None = None) -> dict[str, Any]:
    leaf: dict[str, Any] = {"value": _sig(value), "source": source}
    if note:
        leaf["note"] = note
    return leaf


def _best(frame: pd.DataFrame, kernels: tuple[str, ...], column: str,
          dtypes: tuple) -> dict[str, pd.Series]:
    """The fastest row (by `column`) per dtype among `kernels`."""
    names = {d.value for d in dtypes}
    rows = frame[frame["kernel"].isin(kernels) & frame["dtype"].isin(names)]
    return {str(dtype): group.loc[group[column].idxmax()]
            for dtype, group in rows.groupby("dtype") if group[column].max() > 0}


def _case(row: pd.Series) -> str:
    shape = ", ".join(f"{k}={row[k]}" for k in ("m", "n", "k", "batch", "groups", "rows",
                                                "cols", "numel") if pd.notna(row[k]))
    return f"{row['op']}({shape})"


def tdp_of(fingerprint: dict, tdp_w: float | None, tdp_source: str | None,
           date: str) -> tuple[float, str] | None:
    """The TDP and its citation: given by the user, else read from the device, else None (the
    spec then lists it under not_sourced)."""
    if tdp_w is not None:
        if not tdp_source or len(tdp_source.strip()) < 8:
            raise ValueError("--tdp-w needs --tdp-source: where the TDP figure comes from "
                             "(a datasheet and table, or a URL)")
        return float(tdp_w), tdp_source.strip()
    read = fingerprint.get("power_limit_w")
    if read:
        how = "nvidia-smi power.limit" if fingerprint["kind"] == "cuda" else \
            "the RAPL package power limit in /sys/class/powercap"
        return float(read), f"{how}, read by archsim bench on {date}"
    return None


def spec_dict(m: Measurements, tdp: tuple[float, str] | None) -> dict[str, Any]:
    """The device YAML, as a mapping, from one measurement file."""
    fp, date = m.meta["device"], m.meta["date"]
    frame = with_rates(m.frame)
    name = f"{m.meta['slug']}-measured"
    sources = {"bench": f"measured by archsim bench on {date} ({m.csv_path.name}, torch "
                        f"{m.meta['versions']['torch']}, {fp['name']})",
               **({"tdp": tdp[1]} if tdp else {})}
    spec: dict[str, Any] = {
        "name": name,
        "display_name": f"{fp['name']} ({_units_text(fp)}), measured",
        "vendor": fp.get("vendor") or "unknown",
        "notes": "Peaks are the best rates archsim bench measured with torch, not datasheet "
                 "figures; vector peaks come from bandwidth-bound eager kernels and are lower "
                 "bounds of the ALU peak.",
        "sources": sources,
    }
    matrix = _best(frame, MATRIX_KERNELS, "flops_per_s", MATRIX_DTYPES)
    if not matrix:
        raise ValueError(f"{m.csv_path}: no GEMM measurements, so no matrix peak to emit")
    spec["matrix_dense_TFLOPS"] = {d: _leaf(r["flops_per_s"] / 1e12, "bench", _case(r))
                                   for d, r in matrix.items()}
    vector = _best(frame, VECTOR_KERNELS, "flops_per_s", VECTOR_DTYPES)
    if vector:
        spec["vector_TFLOPS"] = {d: _leaf(r["flops_per_s"] / 1e12, "bench", _case(r))
                                 for d, r in vector.items()}
    spec["memory"] = _memory(frame, fp, date, sources)
    spec["compute"] = _compute(fp, date, sources)
    if tdp:
        spec["power"] = {"tdp_W": _leaf(tdp[0], "tdp")}
    spec["defaults_until_calibrated"] = _defaults(frame, sources)
    spec["not_sourced"] = _not_sourced(fp)
    if not tdp:
        spec["not_sourced"]["power.tdp_W"] = ("the OS does not expose this device's TDP here; "
                                              "give --tdp-w and --tdp-source")
    return spec


def _units_text(fp: dict) -> str:
    return f"{fp['sm_count']} SMs" if fp["kind"] == "cuda" else f"{fp['threads']} threads"


def _memory(frame: pd.DataFrame, fp: dict, date: str, sources: dict) -> dict[str, Any]:
    copies = frame[frame["kernel"] == "copy"]
    if copies.empty:
        raise ValueError("no copy measurements, so no memory bandwidth to emit")
    largest = copies[copies["numel"] == copies["numel"].max()]
    row = largest.loc[largest["bytes_per_s"].idxmax()]
    if fp.get("memory_bytes") is None:
        raise ValueError(f"the memory capacity of {fp['name']!r} could not be read")
    if fp["kind"] == "cuda":
        sources["torch-props"] = f"torch.cuda.get_device_properties, read on {date}"
        capacity = _leaf(fp["memory_bytes"] / 1e9, "torch-props", "total_memory")
    else:
        sources["meminfo"] = f"/proc/meminfo MemTotal, read by archsim bench on {date}"
        capacity = _leaf(fp["memory_bytes"] / 1e9, "meminfo", "host memory")
    memory = {"capacity_GB": capacity,
              "bw_TBps": _leaf(row["bytes_per_s"] / 1e12, "bench",
                               f"{_case(row)}, bytes read plus written")}
    if fp["kind"] == "cuda" and fp.get("last_level_cache_bytes"):
        memory["l2_MB"] = _leaf(fp["last_level_cache_bytes"] / 1e6, "torch-props",
                                "L2_cache_size")
    return memory


def _compute(fp: dict, date: str, sources: dict) -> dict[str, Any]:
    if fp["kind"] == "cuda":
        sources["torch-props"] = f"torch.cuda.get_device_properties, read on {date}"
        compute: dict[str, Any] = {"units": {"value": fp["sm_count"], "source": "torch-props"},
                                   "unit_name": "SM"}
        if fp.get("clock_mhz"):
            sources["nvidia-smi"] = f"nvidia-smi --query-gpu clocks.max.sm, read on {date}"
            compute["clock_MHz"] = _leaf(fp["clock_mhz"], "nvidia-smi", "max SM clock")
        return compute
    sources["torch-threads"] = f"torch.get_num_threads() during archsim bench on {date}"
    compute = {"units": {"value": fp["threads"], "source": "torch-threads"},
               "unit_name": "thread"}
    if fp.get("clock_mhz"):
        sources["cpuinfo"] = f"/proc/cpuinfo 'cpu MHz', read by archsim bench on {date}"
        compute["clock_MHz"] = _leaf(fp["clock_mhz"], "cpuinfo",
                                     "clock at measurement time, not the maximum")
    return compute


def _defaults(frame: pd.DataFrame, sources: dict) -> dict[str, Any]:
    sources["archsim-default"] = ("archsim default, not measured: this spec has no scale-up or "
                                  "scale-out link, so the link fractions are unused")
    fastest = frame.loc[frame["median_s"].idxmin()]
    by_construction = "the peaks are best measured rates: all of them is achievable"
    return {
        "kernel_overhead_us": _leaf(fastest["median_s"] * 1e6, "bench",
                                    f"fastest kernel measured: {_case(fastest)}"),
        "matrix_fraction": _leaf(1.0, "bench", by_construction),
        "vector_fraction": _leaf(1.0, "bench", by_construction),
        "memory_fraction": _leaf(1.0, "bench", by_construction),
        "scale_up_fraction": _leaf(1.0, "archsim-default"),
        "scale_out_fraction": _leaf(1.0, "archsim-default"),
    }


def _not_sourced(fp: dict) -> dict[str, str]:
    out = {"power.idle_W": "archsim bench does not measure power",
           "price": "a measured device has no price in its measurements",
           "scale_up": "archsim bench measures one device, no links",
           "scale_out": "archsim bench measures one device, no links"}
    if fp["kind"] != "cuda":
        out["memory.l2_MB"] = "a CPU's caches do not map to one GPU-style L2 figure"
    return out


def write_spec(m: Measurements, folder: str | Path, tdp: tuple[float, str] | None) -> Path:
    """Write `<slug>-measured.yaml` into `folder` and check it loads; returns its path."""
    from hwspecs import load_device

    spec = spec_dict(m, tdp)
    path = Path(folder) / f"{spec['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# {spec['display_name']}: written by `archsim bench --emit-spec` from "
              f"{m.csv_path.name}.\n")
    path.write_text(header + yaml.dump(spec, Dumper=_SpecDumper, sort_keys=False,
                                           width=100), encoding="utf-8")
    try:
        load_device(str(path))
    except ValueError:
        path.unlink()
        raise
    return path
