"""`archsim import aiconfigurator` on a committed fixture of each table (a few hundred rows)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from validation.measure.aiconfigurator import import_aiconfigurator
from validation.measure.measured_sets import load_set
from validation.measure.records import read_measurements

FIXTURE = Path(__file__).parent / "fixtures" / "aiconfigurator" / "h100_sxm"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    out = tmp_path_factory.mktemp("h100")
    return import_aiconfigurator(FIXTURE, out), out


def test_every_row_is_a_record_or_counted_by_reason(imported):
    result, _ = imported
    kept = sum(result.rows.values())
    skipped = sum(s["rows"] for s in result.skipped)
    tables = sum(len(pd.read_parquet(t.path)) for t in result.tables)
    assert kept + skipped == tables
    assert set(result.rows) == {"gemm", "attention", "moe", "collective"}
    assert all(s["reason"] for s in result.skipped)


def test_records_name_the_gpu_engine_source_and_licence(imported):
    result, out = imported
    m = read_measurements(result.json_path)
    assert m.meta["device_ref"] == "h100-sxm" and m.meta["engine"] == "trtllm"
    assert "095f58a" in str(m.meta) and "Apache-2.0" in str(m.meta)
    assert (out / "LICENSE").is_file()
    assert result.csv_path.name.endswith(".csv.gz")
    assert load_set(out).device.name == "h100-sxm"


def test_nccl_sizes_are_bytes_not_elements(imported):
    result, _ = imported
    frame = read_measurements(result.json_path).frame
    nccl = pd.read_parquet(FIXTURE / "comm/nccl/2.29.2/nccl_perf.parquet")
    row = nccl.iloc[0]
    element = 2 if row["nccl_dtype"] == "half" else 1
    op = {"alltoall": "all_to_all"}.get(row["op_name"], row["op_name"])
    mine = frame[(frame.kernel == "collective") & (frame.impl == "NCCL") & (frame.op == op)
                 & (frame.gpus == row["num_gpus"])
                 & (frame.message_bytes == row["message_size"] * element)]
    assert len(mine) >= 1
    # Latencies in the tables are milliseconds.
    assert mine["median_s"].iloc[0] == pytest.approx(row["latency"] / 1e3)


def test_gemm_records_count_flops_as_the_tracer_does(imported):
    result, _ = imported
    frame = read_measurements(result.json_path).frame
    g = frame[frame.kernel == "gemm"].iloc[0]
    assert g["flops"] == pytest.approx(2 * g["m"] * g["n"] * g["k"], rel=1e-7)   # 8 digits


def test_unknown_folder_needs_a_device(tmp_path):
    odd = tmp_path / "mystery_gpu"
    shutil.copytree(FIXTURE, odd)
    with pytest.raises(ValueError, match="mystery_gpu"):
        import_aiconfigurator(odd, tmp_path / "out")
    r = import_aiconfigurator(odd, tmp_path / "out", device="h100-sxm", sample=20)
    assert r.device == "h100-sxm" and sum(r.rows.values()) <= 20 * len(r.tables)


def test_a_malformed_table_is_one_sentence(tmp_path):
    broken = tmp_path / "h100_sxm"
    shutil.copytree(FIXTURE, broken)
    table = broken / "gemm/trtllm/1.3.0rc20/gemm_perf.parquet"
    pd.read_parquet(table).drop(columns=["k"]).to_parquet(table)
    with pytest.raises(ValueError, match=r"gemm_perf.parquet: .*k missing"):
        import_aiconfigurator(broken, tmp_path / "out")
    table.write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="gemm_perf.parquet"):
        import_aiconfigurator(broken, tmp_path / "out")


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "h100_sxm").mkdir()
    with pytest.raises(ValueError, match="no aiconfigurator tables"):
        import_aiconfigurator(tmp_path / "h100_sxm", tmp_path / "out")
