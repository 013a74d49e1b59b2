"""A roofline chart (matplotlib PNG) of a report's kernels against the device's roofs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwspecs.schema import DeviceSpec
from simulator import KINDS, Report


def achieved_points(report: Report) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arithmetic intensity (FLOP/byte), achieved FLOP/s and kind code of each priced kernel."""
    t = report.ops
    keep = (t.time_s > 0) & (t.flops > 0) & (t.bytes > 0)
    intensity = t.flops[keep] / t.bytes[keep]
    achieved = t.flops[keep] / t.time_s[keep]
    return intensity, achieved, report.arrays.kind[keep]


def plot_roofline(reports: list[Report], devices: list[DeviceSpec], path: str | Path) -> Path:
    """Write one PNG: each device's memory and compute roofs and its kernels as points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = np.logspace(-2, 5, 200)
    for i, (report, device) in enumerate(zip(reports, devices, strict=True)):
        color = colors[i % len(colors)]
        peak = report.peak_flops_per_s
        ax.plot(x, np.minimum(peak, x * device.mem_bw_bytes_per_s), color=color,
                label=f"{device.name} roof")
        intensity, achieved, kinds = achieved_points(report)
        for code in np.unique(kinds):
            rows = kinds == code
            ax.scatter(intensity[rows], achieved[rows], s=10, color=color, alpha=0.5,
                       marker="osv^Dx+*<>p"[code % 11],
                       label=f"{device.name}: {KINDS[code].value}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP/byte)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(f"{reports[0].model}, {reports[0].phase.value}: kernels on their roofs")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
