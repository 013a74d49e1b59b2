"""Measurement files round-trip, and a wrong-version, edited or corrupt one is refused."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from validation.measure.records import (
    COLUMNS,
    FORMAT_VERSION,
    read_measurements,
    write_measurements,
)


def _frame() -> pd.DataFrame:
    base = {c: None for c in COLUMNS}
    gemm = {**base, "kernel": "gemm", "op": "mm", "impl": "torch.mm", "dtype": "fp32",
            "m": 4, "n": 8, "k": 16, "batch": 1, "flops": 1024.0, "read_bytes": 768.0,
            "write_bytes": 128.0, "launches": 1, "median_s": 2e-6, "p10_s": 1.5e-6,
            "p25_s": 1.8e-6, "p75_s": 2.2e-6, "p90_s": 3e-6, "repeats": 50, "inner": 10,
            "noise_riqr": 0.2}
    attn = {**gemm, "kernel": "attention", "op": "sdpa_prefill", "impl": "sdpa, with, commas",
            "m": None, "n": None, "k": None, "heads": 4, "kv_heads": 2, "q_len": 8,
            "kv_len": 8, "head_dim": 16, "causal": True}
    return pd.DataFrame([gemm, attn])


@pytest.fixture
def written(tmp_path):
    csv_path, json_path = write_measurements(_frame(), {"slug": "test-device", "date": "x"},
                                             tmp_path, "kernels-test")
    return csv_path, json_path


def _rewrite_csv(csv_path, json_path, text: str) -> None:
    """Replace the table and fix up the checksum, as a careless hand edit would."""
    csv_path.write_text(text, encoding="utf-8")
    meta = json.loads(json_path.read_text())
    meta["sha256"] = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    json_path.write_text(json.dumps(meta))


def test_records_round_trip(written):
    csv_path, json_path = written
    for path in (csv_path, json_path):
        m = read_measurements(path)
        assert list(m.frame.columns) == list(COLUMNS)
        assert m.meta["slug"] == "test-device" and m.meta["format_version"] == FORMAT_VERSION
        back = m.frame.astype(object).where(m.frame.notna(), None).to_dict("records")
        assert back[0]["m"] == 4 and back[0]["causal"] is None and back[0]["heads"] is None
        assert back[1]["causal"] is True and back[1]["impl"] == "sdpa, with, commas"
        assert back[0]["median_s"] == 2e-6 and back[1]["repeats"] == 50


def test_another_format_version_is_refused(written):
    _, json_path = written
    meta = json.loads(json_path.read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    json_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"version {FORMAT_VERSION + 1}.*re-run archsim bench"):
        read_measurements(json_path)


def test_a_file_that_is_not_ours_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"rows": 2}))
    with pytest.raises(ValueError, match="not an archsim measurement file"):
        read_measurements(path)


def test_broken_json_is_refused(written):
    _, json_path = written
    json_path.write_text(json_path.read_text()[:40])
    with pytest.raises(ValueError, match="not valid JSON"):
        read_measurements(json_path)


def test_missing_files_are_refused(written, tmp_path):
    csv_path, _ = written
    csv_path.unlink()
    with pytest.raises(ValueError, match="cannot be read"):
        read_measurements(csv_path)
    with pytest.raises(ValueError, match="cannot be read"):
        read_measurements(tmp_path / "nothing.csv")


def test_an_edited_or_truncated_table_fails_its_checksum(written):
    csv_path, _ = written
    csv_path.write_bytes(csv_path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="checksum"):
        read_measurements(csv_path)


def test_a_table_with_wrong_columns_is_refused(written):
    csv_path, json_path = written
    text = csv_path.read_text().replace("median_s", "time_s", 1)
    _rewrite_csv(csv_path, json_path, text)
    with pytest.raises(ValueError, match="columns"):
        read_measurements(csv_path)


def test_a_table_with_garbage_values_is_refused(written):
    csv_path, json_path = written
    lines = csv_path.read_text().splitlines()
    lines[1] = lines[1].replace("gemm,mm,torch.mm,fp32,,,4,", "gemm,mm,torch.mm,fp32,,,four,")
    _rewrite_csv(csv_path, json_path, "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="cannot be parsed"):
        read_measurements(csv_path)


def test_impossible_times_are_refused(written):
    csv_path, json_path = written
    frame = _frame()
    frame.loc[0, "p10_s"] = 1.0     # p10 above the median
    _rewrite_csv(csv_path, json_path, frame[list(COLUMNS)].to_csv(index=False))
    with pytest.raises(ValueError, match="line 2: times must be positive"):
        read_measurements(csv_path)


def test_a_row_count_mismatch_is_refused(written):
    csv_path, json_path = written
    lines = csv_path.read_text().splitlines()
    _rewrite_csv(csv_path, json_path, "\n".join(lines[:2]) + "\n")
    with pytest.raises(ValueError, match="1 rows, but"):
        read_measurements(csv_path)


def test_writing_records_without_the_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match="lack column"):
        write_measurements(pd.DataFrame([{"kernel": "gemm"}]), {}, tmp_path, "x")
