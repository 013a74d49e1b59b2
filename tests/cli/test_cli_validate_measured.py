"""`archsim validate --measured DIR --json`: the per-class error format of imported GPU data."""

from __future__ import annotations

import json
import shutil

import archsim
from validation.measure.measured_sets import DATA_DIR
from validation.measure.records import read_measurements, write_measurements

H100 = DATA_DIR / "h100-sxm-trtllm"
CLASS_KEYS = {"kernel", "dtype", "cases", "median_abs_error", "p90_abs_error"}


def _validate(capsys, *argv):
    assert archsim.main(["validate", "--measured", *argv, "--json"]) == 0
    out, err = capsys.readouterr()
    return json.loads(out)["devices"]


def test_its_own_data_scores_the_held_out_quarter(capsys):
    (d,) = _validate(capsys, str(H100))
    assert d["device"] == "h100-sxm" and d["fitted_on_this_data"] is True
    assert "fitted on h100-sxm trtllm" in d["profile_origin"]
    classes = {(c["kernel"], c["dtype"]): c for c in d["classes"]}
    assert all(set(c) == CLASS_KEYS for c in d["classes"])
    for key in [("gemm", "bf16"), ("gemm", "fp8"), ("attention_prefill", "bf16"),
                ("attention_decode", "bf16"), ("moe", "bf16"), ("all_reduce", "fp16"),
                ("custom_all_reduce", "bf16")]:
        assert key in classes, key
    frame = read_measurements(H100 / "kernels-full.json").frame
    gemm = ((frame.kernel == "gemm") & (frame.dtype == "bf16")).sum()
    # every fourth GEMM shape in file order is held out (the bf16 rows are one quarter of it)
    assert classes[("gemm", "bf16")]["cases"] < gemm / 3
    c = classes[("gemm", "bf16")]
    assert 0 < c["median_abs_error"] <= c["p90_abs_error"] < 1


def test_other_data_is_scored_whole(capsys, tmp_path):
    m = read_measurements(H100 / "kernels-full.json")
    part = m.frame[m.frame.kernel == "gemm"].head(40).copy()
    for column in ("p10_s", "p25_s", "median_s", "p75_s", "p90_s"):   # another, slower run
        part[column] = part[column] * 1.5
    meta = {k: v for k, v in m.meta.items() if k not in ("format", "format_version", "csv",
                                                          "rows", "sha256")}
    write_measurements(part, meta, tmp_path, "kernels-full", compress=True)
    (d,) = _validate(capsys, str(tmp_path))
    assert d["fitted_on_this_data"] is False
    assert sum(c["cases"] for c in d["classes"]) == 40
    (own,) = _validate(capsys, str(H100))
    mine = {c["dtype"]: c for c in d["classes"]}
    theirs = {(c["kernel"], c["dtype"]): c for c in own["classes"]}
    # 1.5x slower measurements: the same profile's error grows on them
    assert mine["bf16"]["median_abs_error"] > theirs[("gemm", "bf16")]["median_abs_error"]


def test_engine_picks_the_profile(capsys):
    (d,) = _validate(capsys, str(DATA_DIR / "h100-sxm-vllm"), "--engine", "trtllm")
    assert "h100-sxm trtllm" in d["profile"] and d["fitted_on_this_data"] is False


def test_a_folder_without_records_is_one_sentence(capsys, tmp_path):
    shutil.copy(H100 / "LICENSE", tmp_path / "LICENSE")
    code = archsim.main(["validate", "--measured", str(tmp_path), "--json"])
    _, err = capsys.readouterr()
    assert code == 2 and "no kernels-full.json" in err and len(err.strip().splitlines()) == 1

