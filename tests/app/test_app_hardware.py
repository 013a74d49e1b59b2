"""Hardware page: shipped specs with their sources; uploaded specs, good and bad."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hwspecs import DType, device_names, load_device
from hwspecs.errors import SpecError
from hwspecs.load import check_device
from tests.app import expected
from tests.app.conftest import SEQ

H100_YAML = Path(load_device("h100-sxm").path)


def _hardware(make_app):
    at = make_app(run=False)
    at.run()
    at.switch_page("app_pages/hardware.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _custom_yaml(name: str, **memory) -> bytes:
    raw = yaml.safe_load(H100_YAML.read_text())
    raw["name"] = name
    raw["display_name"] = f"Custom {name}"
    for key, value in memory.items():
        raw["memory"][key]["value"] = value
    return yaml.safe_dump(raw, sort_keys=False).encode()


def test_device_table_equals_the_specs(make_app):
    at = _hardware(make_app)
    table = at.dataframe[0].value.set_index("name")
    assert list(table.index) == device_names()
    for name in device_names():
        d = load_device(name)
        assert table.loc[name, "memory (GB)"] == pytest.approx(d.mem_capacity_bytes / 1e9)
        assert table.loc[name, "bandwidth (TB/s)"] == pytest.approx(d.mem_bw_bytes_per_s / 1e12)
        bf16 = d.matrix_peak_flops_per_s.get(DType.BF16)
        if bf16 is not None:
            assert table.loc[name, "bf16 TFLOP/s"] == pytest.approx(bf16 / 1e12)
        expected.assert_same(table.loc[name, "TDP (W)"], d.tdp_w)
        expected.assert_same(table.loc[name, "rent ($/h)"], d.rent_usd_per_hour)


def test_every_number_shows_its_citation(make_app):
    at = _hardware(make_app)
    at.selectbox(key="in_hw_device").set_value("mi300x").run()
    spec = at.dataframe[1].value.set_index("field")
    d = load_device("mi300x")
    raw = yaml.safe_load(Path(d.path).read_text())
    assert set(d.sources) <= set(spec.index)
    for field, citation in d.sources.items():
        section, key = field.split(".", 1) if "." in field else (field, None)
        entry = raw[section][key] if key else raw[section]
        assert spec.loc[field, "value"] == f"{entry['value']:g}"
        assert spec.loc[field, "citation"] == raw["sources"][entry["source"]]
        assert citation.startswith(spec.loc[field, "citation"])
    for field in d.not_sourced:
        assert spec.loc[field, "value"] == "left out"


def test_bad_upload_shows_the_loaders_sentence(make_app, tmp_path):
    at = _hardware(make_app)
    bad = _custom_yaml("my-gpu", capacity_GB=-80)
    at.get("file_uploader")[0].upload("my-gpu.yaml", bad, "application/yaml")
    at.run()
    assert not at.exception
    (tmp_path / "my-gpu.yaml").write_bytes(bad)
    with pytest.raises(SpecError) as loader:
        check_device(tmp_path / "my-gpu.yaml")
    assert at.error[0].value == f"my-gpu.yaml: field 'memory.capacity_GB': {loader.value.problem}"
    assert len(at.error) == 1 and len(at.dataframe) == 2        # the rest of the page is intact
    assert "my-gpu" not in list(at.dataframe[0].value["name"])


def test_uploaded_device_is_usable_on_compare_and_can_be_infeasible(make_app, small_model):
    at = _hardware(make_app)
    # 0.1 GB cannot hold the small model's ~140 MB of weights.
    at.get("file_uploader")[0].upload("tiny-gpu.yaml", _custom_yaml("tiny-gpu", capacity_GB=0.1),
                                      "application/yaml")
    at.run()
    assert not at.exception and not at.error
    assert "tiny-gpu" in at.success[0].value
    assert "tiny-gpu" in list(at.dataframe[0].value["name"])
    at.switch_page("app_pages/compare.py").run()
    at.multiselect(key="in_devices").set_value(["h100-sxm", "tiny-gpu"]).run()
    assert not at.exception and not at.error
    rows = at.dataframe[0].value.to_dict("records")
    tiny = [r for r in rows if r["device"] == "tiny-gpu"]
    assert tiny and all(r["fits"].startswith("no: needs") for r in tiny)
    assert any("tiny-gpu" in w.value and "out of memory" in w.value for w in at.warning)
    device = load_device("h100-sxm").scaled(mem_capacity=0.1 / 80)
    r = expected.report(small_model, ("prefill", 1, SEQ, 0), device, expected.options())
    assert not r.footprint.feasible
    assert tiny[0]["memory (GB)"] == pytest.approx(r.footprint.total_bytes / 1e9, rel=1e-12)
    assert tiny[0]["latency (ms)"] == pytest.approx(r.time_s * 1e3, rel=1e-12)


def test_upload_may_not_shadow_a_shipped_device(make_app):
    at = _hardware(make_app)
    at.get("file_uploader")[0].upload("h100-sxm.yaml", H100_YAML.read_bytes(), "application/yaml")
    at.run()
    assert not at.exception
    assert "already named 'h100-sxm'" in at.error[0].value
