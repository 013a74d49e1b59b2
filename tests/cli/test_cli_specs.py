"""`archsim specs list|show|validate`, run in-process: SI JSON, exit codes, one-line errors."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

import archsim
import hwspecs
from tests.hwspecs.helpers_specs import H100_PATH, h100_raw, set_at, write_spec

# Numeric device keys not named for a unit: plain counts.
COUNT_KEYS = {"compute_units", "domain_size"}
UNIT_ENDINGS = ("_per_s", "_bytes", "_s", "_hz", "_w", "_usd", "_usd_per_hour", "_fraction")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = archsim.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0 and err == ""
    return json.loads(out)


def _numeric_keys_without_unit(obj, parent: str = "") -> list[str]:
    """Keys of numbers that neither end in a unit nor sit in a table whose key does."""
    bad = []
    for key, value in obj.items():
        if key in ("sources", "not_sourced"):        # keyed by YAML path; values are text
            continue
        if isinstance(value, dict):
            bad += _numeric_keys_without_unit(value, key)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            named = key.endswith(UNIT_ENDINGS) or parent.endswith(UNIT_ENDINGS)
            if not named and key not in COUNT_KEYS:
                bad.append(f"{parent}.{key}" if parent else key)
    return bad


def test_list_shows_every_shipped_device_and_system(capsys):
    code, out, err = run(capsys, "specs", "list")
    assert code == 0 and err == ""
    for name in hwspecs.device_names() + hwspecs.system_names():
        assert name in out
    h100 = next(line for line in out.splitlines() if " h100-sxm " in line)
    assert "989" in h100 and "1,979" in h100 and "3.35" in h100     # dense, not sparse


def test_list_json_is_si(capsys):
    data = run_json(capsys, "specs", "list")
    assert [d["name"] for d in data["devices"]] == hwspecs.device_names()
    assert [s["name"] for s in data["systems"]] == hwspecs.system_names()
    for d in data["devices"]:
        assert d["peak_flops_per_s"] and min(d["peak_flops_per_s"].values()) > 1e9, d["name"]
        assert d["mem_bw_bytes_per_s"] > 1e10 and d["mem_capacity_bytes"] > 1e8, d["name"]
        assert _numeric_keys_without_unit(d) == [], d["name"]
    for s in data["systems"]:
        assert s["num_devices"] == s["devices_per_node"] * s["nodes"]
        assert all(lv["bw_bytes_per_s"] > 1e8 for lv in s["levels"]), s["name"]


def test_show_device_json_in_si_units(capsys):
    d = run_json(capsys, "specs", "show", "h100-sxm")
    assert d["peak_flops_per_s"]["bf16"] == pytest.approx(989.4e12, rel=1e-12)
    assert d["sparse_peak_flops_per_s"]["bf16"] == pytest.approx(1978.9e12, rel=1e-12)
    assert d["mem_bw_bytes_per_s"] == pytest.approx(3.35e12, rel=1e-12)
    assert d["mem_capacity_bytes"] == 80e9
    assert d["scale_up"]["bw_bytes_per_s"] == 450e9
    assert d["scale_out"]["bw_bytes_per_s"] == 50e9
    assert d["defaults_until_calibrated"]["kernel_overhead_s"] == pytest.approx(4e-6)
    assert "nv-ds" not in d["sources"] and "datasheet" in d["sources"]["memory.bw_TBps"]
    assert _numeric_keys_without_unit(d) == []


def test_show_device_table_cites_every_number(capsys):
    code, out, err = run(capsys, "specs", "show", "h100-sxm")
    assert code == 0 and err == ""
    bf16 = next(line for line in out.splitlines() if "matrix_dense_TFLOPS.bf16" in line)
    assert "989.4" in bf16 and "nv-ds" in bf16
    assert "left out" in out and "hopper-wp" in out


def test_show_system_reference_json(capsys):
    s = run_json(capsys, "specs", "show", "h100-sxm:devices=8,nodes=4,nic_Gbps=800")
    assert (s["devices_per_node"], s["nodes"], s["num_devices"]) == (8, 4, 32)
    assert [(lv["group_size"], lv["bw_bytes_per_s"]) for lv in s["levels"]] == [
        (8, 450e9), (32, 100e9)]


def test_show_device_and_system_yaml_paths(capsys, tmp_path):
    d = run_json(capsys, "specs", "show", str(write_spec(tmp_path, h100_raw())))
    assert d["name"] == "h100-sxm" and d["path"].startswith(str(tmp_path))
    system = {"name": "box", "display_name": "Box", "device": "h100-sxm",
              "sources": {"t": "made up for a test, round numbers"},
              "devices_per_node": {"value": 4, "source": "t"}, "nodes": {"value": 1, "source": "t"}}
    s = run_json(capsys, "specs", "show", str(write_spec(tmp_path, system, stem="box")))
    assert (s["name"], s["num_devices"], s["levels"][0]["group_size"]) == ("box", 4, 4)


def test_validate_shipped_files(capsys):
    pattern = str(Path(hwspecs.__file__).parent / "**" / "*.yaml")
    n = len(glob.glob(pattern, recursive=True))
    assert n >= len(hwspecs.device_names()) + len(hwspecs.system_names()) >= 1
    code, out, err = run(capsys, "specs", "validate", pattern)
    assert code == 0, out
    assert f"{n} of {n} spec file(s) valid" in out and "FAIL" not in out


def test_validate_good_and_bad_files(capsys, tmp_path):
    raw = h100_raw()
    set_at(raw, "memory.bw_TBps.value", 3350)
    (tmp_path / "bad").mkdir()
    bad = write_spec(tmp_path / "bad", raw)
    code, out, err = run(capsys, "specs", "validate", str(H100_PATH), str(bad))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"ok   {H100_PATH}"
    assert lines[1].startswith(f"FAIL {bad}: field 'memory.bw_TBps': 3350 TBps")
    assert lines[2] == "1 of 2 spec file(s) valid"


def test_validate_json(capsys, tmp_path):
    broken = tmp_path / "h100-sxm.yaml"
    broken.write_text("name: h100-sxm\nmemory: {bw_TBps: [3.35\n", encoding="utf-8")
    code, out, err = run(capsys, "specs", "validate", str(broken), str(H100_PATH), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    first, second = data["files"]
    assert first["ok"] is False and first["error"].startswith(f"{broken}: the file: broken YAML")
    assert second == {"path": str(H100_PATH), "ok": True, "error": None}


@pytest.mark.parametrize("content, words", [
    (None, "cannot be read"),
    ("- a list\n", "mapping of fields"),
    ({"name": "box", "display_name": "Box", "device": "h100-sx",
      "sources": {"t": "made up for a test"}, "devices_per_node": {"value": 8, "source": "t"},
      "nodes": {"value": 1, "source": "t"}}, "field 'device': unknown device 'h100-sx'"),
])
def test_validate_reports_each_kind_of_bad_file(capsys, tmp_path, content, words):
    path = tmp_path / "box.yaml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif content is not None:
        path = write_spec(tmp_path, content, stem="box")
    code, out, _ = run(capsys, "specs", "validate", str(path))
    assert code == 1
    fail = out.splitlines()[0]
    assert fail.startswith(f"FAIL {path}: ") and words in fail


@pytest.mark.parametrize("argv, words", [
    (["specs", "show", "h100-sxn"], "'h100-sxn'; did you mean h100-sxm"),
    (["specs", "show", "h100-sxm:devices=16"], "scale-up domain of 8"),
    (["specs", "show", "h100-sxm:gpus=8", "--json"], "unknown option(s) gpus"),
    (["specs", "show", "missing/nowhere.yaml"], "nowhere.yaml: the file: cannot be read"),
])
def test_user_errors_are_one_line_and_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("archsim: error: ") and words in err


def test_bad_device_file_in_show_names_the_field(capsys, tmp_path):
    raw = h100_raw()
    set_at(raw, "power.tdp_W.value", -700)
    path = write_spec(tmp_path, raw)
    code, out, err = run(capsys, "specs", "show", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{path}: field 'power.tdp_W': -700 W is outside the plausible range" in err
