"""The strict spec loader: each kind of bad YAML gets one sentence naming the file and the field;
units convert in one place; system references build the right link levels."""

from __future__ import annotations

from pathlib import Path

import pytest

import hwspecs
from hwspecs import DType, SpecError, load_device, load_system
from hwspecs import registry as reg
from hwspecs.units import from_si, to_si, unit_of
from tests.hwspecs.helpers_specs import delete_at, h100_raw, set_at, write_spec

# --- bad device files: (case id, edit of the H100 dict, field named, words in the problem) ---

BAD_DEVICE_CASES = [
    ("missing-field", lambda r: delete_at(r, "vendor"), "vendor", "missing"),
    ("missing-section-field", lambda r: delete_at(r, "memory.bw_TBps"), "memory.bw_TBps",
     "missing"),
    ("missing-section", lambda r: delete_at(r, "memory"), "memory", "missing"),
    ("missing-sources", lambda r: delete_at(r, "sources"), "sources", "missing"),
    ("unknown-top-key", lambda r: set_at(r, "colour", "green"), "colour", "unknown field"),
    ("unknown-section-key", lambda r: set_at(r, "memory.bw_GBps", {"value": 3350,
                                                                     "source": "nv-ds"}),
     "memory.bw_GBps", "unknown field"),
    ("unknown-dtype", lambda r: set_at(r, "matrix_dense_TFLOPS.fp12", {"value": 1,
                                                                        "source": "nv-ds"}),
     "matrix_dense_TFLOPS.fp12", "unknown field"),
    ("unknown-entry-key", lambda r: set_at(r, "memory.bw_TBps.unit", "TB/s"), "memory.bw_TBps",
     "unknown key"),
    ("wrong-type-value", lambda r: set_at(r, "memory.bw_TBps.value", "3.35 TB/s"),
     "memory.bw_TBps", "finite number"),
    ("bool-as-number", lambda r: set_at(r, "power.tdp_W.value", True), "power.tdp_W",
     "finite number"),
    ("bare-number", lambda r: set_at(r, "memory.capacity_GB", 80), "memory.capacity_GB",
     "source"),
    ("number-as-string", lambda r: set_at(r, "display_name", 42), "display_name", "string"),
    ("string-as-bool", lambda r: set_at(r, "scale_up.in_network_reduction", "yes"),
     "scale_up.in_network_reduction", "true or false"),
    ("section-not-mapping", lambda r: set_at(r, "memory", 80), "memory", "mapping"),
    ("empty-section", lambda r: set_at(r, "vector_TFLOPS", {}), "vector_TFLOPS", "empty"),
    ("unknown-topology", lambda r: set_at(r, "scale_up.topology", "hypercube"),
     "scale_up.topology", "hypercube"),
    ("negative", lambda r: set_at(r, "power.tdp_W.value", -700), "power.tdp_W",
     "plausible range"),
    ("zero-fraction", lambda r: set_at(r, "defaults_until_calibrated.matrix_fraction.value", 0),
     "defaults_until_calibrated.matrix_fraction", "plausible range"),
    ("fraction-as-percent", lambda r: set_at(r, "defaults_until_calibrated.memory_fraction.value",
                                             85), "defaults_until_calibrated.memory_fraction",
     "plausible range"),
    ("absurd-bandwidth", lambda r: set_at(r, "memory.bw_TBps.value", 3350), "memory.bw_TBps",
     "3350 TBps is outside the plausible range"),
    ("absurd-nic", lambda r: set_at(r, "scale_out.nic_bw_Gbps.value", 4e6),
     "scale_out.nic_bw_Gbps", "plausible range"),
    ("fractional-count", lambda r: set_at(r, "compute.units.value", 132.5), "compute.units",
     "whole number"),
    ("missing-source", lambda r: delete_at(r, "memory.bw_TBps.source"), "memory.bw_TBps",
     "source None"),
    ("unknown-source", lambda r: set_at(r, "memory.bw_TBps.source", "nv-datasheet"),
     "memory.bw_TBps", "'nv-datasheet' is not one of"),
    ("short-citation", lambda r: set_at(r, "sources.nv-ds", "NV"), "sources.nv-ds", "citation"),
    ("price-without-date", lambda r: delete_at(r, "price.purchase_usd.date"),
     "price.purchase_usd", "date"),
    ("price-bad-date", lambda r: set_at(r, "price.rent_usd_per_hour.date", "April 2026"),
     "price.rent_usd_per_hour", "date"),
    ("date-on-non-price", lambda r: set_at(r, "memory.bw_TBps.date", "2026-04"),
     "memory.bw_TBps", "unknown key"),
    ("sparse-below-dense", lambda r: set_at(r, "matrix_sparse_TFLOPS.bf16.value", 500),
     "matrix_sparse_TFLOPS.bf16", "below the dense peak"),
    ("idle-above-tdp", lambda r: set_at(r, "power.idle_W", {"value": 800, "source": "nv-ds"}),
     "power.idle_W", "above the TDP"),
    ("name-mismatch", lambda r: set_at(r, "name", "h100-pcie"), "name", "file name"),
    ("name-not-slug", lambda r: set_at(r, "name", "H100 SXM"), "name", "lower-case"),
    ("not-sourced-no-reason", lambda r: r["not_sourced"].update({"power.idle_W": " "}),
     "not_sourced.power.idle_W", "reason"),
]


@pytest.mark.parametrize("edit, field, problem",
                         [c[1:] for c in BAD_DEVICE_CASES], ids=[c[0] for c in BAD_DEVICE_CASES])
def test_bad_device_is_one_sentence_naming_file_and_field(tmp_path, edit, field, problem):
    raw = h100_raw()
    edit(raw)
    path = write_spec(tmp_path, raw)
    with pytest.raises(SpecError) as info:
        load_device(str(path))
    message = str(info.value)
    assert info.value.field == field
    assert message.startswith(f"{path}: field '{field}': ")
    assert problem in message
    assert "\n" not in message


FILE_LEVEL_CASES = [
    ("broken-syntax", "name: h100-sxm\nmemory: {capacity_GB: [80\n", "broken YAML at line 3"),
    ("bad-indent", "name: h100-sxm\n  vendor: NVIDIA\n bad: 1\n", "broken YAML at line"),
    ("tab-indent", "name: h100-sxm\nmemory:\n\tbw: 1\n", "broken YAML"),
    ("a-list", "- name: h100-sxm\n- vendor: NVIDIA\n", "mapping of fields, not list"),
    ("a-scalar", "just some text\n", "mapping of fields, not str"),
    ("empty", "", "mapping of fields"),
    ("two-documents", "name: a\n---\nname: b\n", "broken YAML"),
    ("python-tag", "name: !!python/object/apply:os.system ['true']\n", "broken YAML"),
]


@pytest.mark.parametrize("text, problem", [c[1:] for c in FILE_LEVEL_CASES],
                         ids=[c[0] for c in FILE_LEVEL_CASES])
def test_unreadable_file_names_the_file(tmp_path, text, problem):
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_device(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: the file: ")
    assert problem in message
    assert "\n" not in message


def test_missing_and_non_utf8_files_are_spec_errors(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError, match="cannot be read") as info:
        load_device(str(missing))
    assert str(missing) in str(info.value)
    binary = tmp_path / "h100-sxm.yaml"
    binary.write_bytes(b"name: h100-sxm\nvendor: \xff\xfe\n")
    with pytest.raises(SpecError, match="UTF-8") as info:
        load_device(str(binary))
    assert str(binary) in str(info.value)


def test_shipped_h100_loads_in_si():
    d = load_device("h100-sxm")
    assert d.matrix_peak(DType.BF16) == pytest.approx(989.4e12, rel=1e-12)
    assert d.matrix_peak(DType.BF16, sparse=True) == pytest.approx(1978.9e12, rel=1e-12)
    assert d.mem_bw_bytes_per_s == pytest.approx(3.35e12, rel=1e-12)
    assert d.mem_capacity_bytes == 80e9
    assert d.l2_bytes == 50e6
    assert d.clock_hz == 1980e6
    assert d.compute_units == 132 and isinstance(d.compute_units, int)
    assert d.scale_up.bw_bytes_per_s == 450e9
    assert d.scale_out.bw_bytes_per_s == 50e9            # 400 Gb/s / 8
    assert d.pcie_bw_bytes_per_s == 64e9
    assert d.defaults.kernel_overhead_s == pytest.approx(4e-6, rel=1e-12)
    assert d.rent_usd_per_hour == pytest.approx(6.155, rel=1e-12)     # CoreWeave $49.24 / 8
    assert d.rent_usd_per_s == pytest.approx(6.155 / 3600, rel=1e-12)
    assert d.rent_provider == "CoreWeave"
    assert "2026-04" in d.sources["price.purchase_usd"]
    assert "power.idle_W" in d.not_sourced and d.idle_w is None
    with pytest.raises(ValueError, match="fp4"):
        d.matrix_peak(DType.FP4)


@pytest.mark.parametrize("key, value, si", [
    ("nic_bw_Gbps", 400, 50e9),                 # bits: divided by 8
    ("nic_bw_Gbps", 800, 100e9),
    ("bw_per_direction_GBps", 450, 450e9),      # bytes: not divided
    ("bw_TBps", 3.35, 3.35e12),
    ("capacity_GB", 80, 80e9),                  # decimal GB
    ("capacity_GiB", 80, 80 * 2**30),           # binary only when the key says GiB
    ("l2_MB", 50, 50e6),
    ("l2_MiB", 50, 50 * 2**20),
    ("matrix_dense_TFLOPS", 989.4, 989.4e12),
    ("clock_MHz", 1980, 1.98e9),
    ("kernel_overhead_us", 4, 4e-6),
    ("latency_ns", 500, 5e-7),
    ("rent_usd_per_hour", 3.6, 1e-3),           # longest suffix wins over `usd`
    ("purchase_usd", 25000, 25000),
    ("tdp_W", 700, 700),
])
def test_unit_conversion(key, value, si):
    assert to_si(key, value) == pytest.approx(si, rel=1e-12)
    assert from_si(key, to_si(key, value)) == pytest.approx(value, rel=1e-12)


def test_unit_suffixes_are_case_sensitive_and_known():
    assert unit_of("x_Gbps").to_si == pytest.approx(1.25e8)
    assert unit_of("x_GBps").to_si == 1e9
    assert unit_of("rent_usd_per_hour").suffix == "usd_per_hour"
    with pytest.raises(KeyError, match="bw_TBs"):
        unit_of("bw_TBs")


def test_dtype_bytes_are_bits_over_eight():
    assert DType.INT4.bytes == 0.5 and DType.FP6.bytes == 0.75 and DType.BF16.bytes == 2
    assert DType.parse(" BF16 ") is DType.BF16
    with pytest.raises(ValueError, match="'bf17'"):
        DType.parse("bf17")


# --- nothing half-loaded: a failure caches nothing and builds nothing ---

@pytest.fixture
def tmp_registry(tmp_path, monkeypatch):
    """The registry pointed at empty temporary devices/ and systems/ folders."""
    (tmp_path / "devices").mkdir()
    (tmp_path / "systems").mkdir()
    monkeypatch.setattr(reg, "DEVICES_DIR", tmp_path / "devices")
    monkeypatch.setattr(reg, "SYSTEMS_DIR", tmp_path / "systems")
    reg._shipped_device.cache_clear()
    reg._shipped_system.cache_clear()
    yield tmp_path
    reg._shipped_device.cache_clear()
    reg._shipped_system.cache_clear()


def test_failed_load_caches_nothing(tmp_registry):
    raw = h100_raw()
    set_at(raw, "defaults_until_calibrated.scale_out_fraction.value", 2)   # the last section
    write_spec(tmp_registry / "devices", raw)
    with pytest.raises(SpecError, match="scale_out_fraction"):
        hwspecs.load_device("h100-sxm")
    assert reg._shipped_device.cache_info().currsize == 0
    write_spec(tmp_registry / "devices", h100_raw())
    assert hwspecs.load_device("h100-sxm").defaults.scale_out_fraction == 0.8


def test_one_bad_file_fails_the_whole_collection(tmp_registry):
    write_spec(tmp_registry / "devices", h100_raw())
    bad = h100_raw()
    set_at(bad, "name", "h100-copy")
    set_at(bad, "memory.bw_TBps.value", -3.35)
    bad_path = write_spec(tmp_registry / "devices", bad, stem="h100-copy")
    with pytest.raises(SpecError) as info:
        hwspecs.load_all_devices()
    assert str(bad_path) in str(info.value) and "memory.bw_TBps" in str(info.value)


def test_system_with_a_bad_device_names_the_system_file(tmp_registry):
    bad = h100_raw()
    set_at(bad, "power.tdp_W.value", 0)
    write_spec(tmp_registry / "devices", bad)
    system = write_spec(tmp_registry / "systems", _system_raw("box"), stem="box")
    with pytest.raises(SpecError) as info:
        hwspecs.load_system("box")
    message = str(info.value)
    assert message.startswith(f"{system}: field 'device': ") and "power.tdp_W" in message
    assert reg._shipped_system.cache_info().currsize == 0


# --- systems and system references ---

def _system_raw(name: str, **extra) -> dict:
    return {"name": name, "display_name": f"Test {name}", "device": "h100-sxm",
            "sources": {"test": "a system made up for a test, with round numbers"},
            "devices_per_node": {"value": 8, "source": "test"},
            "nodes": {"value": 1, "source": "test"}, **extra}


def _levels(system) -> list[tuple[str, int, float]]:
    return [(lv.name, lv.group_size, lv.bw_bytes_per_s) for lv in system.levels]


@pytest.mark.parametrize("ref, devices, levels", [
    ("h100-sxm", 1, []),
    ("h100-sxm:devices=8", 8, [("NVLink 4", 8, 450e9)]),
    ("H100-SXM:devices=8", 8, [("NVLink 4", 8, 450e9)]),
    ("h100-sxm:devices=8,nodes=4,nic_Gbps=800", 32,
     [("NVLink 4", 8, 450e9), ("infiniband", 32, 100e9)]),
    ("h100-sxm:devices=8,nodes=2", 16, [("NVLink 4", 8, 450e9), ("infiniband", 16, 50e9)]),
    ("h100-sxm:nodes=4,nic_Gbps=200,fabric=roce", 4, [("roce", 4, 25e9)]),
])
def test_device_references(ref, devices, levels):
    system = load_system(ref)
    assert system.num_devices == devices
    assert _levels(system) == levels
    assert system.device == load_device("h100-sxm")


def test_level_for_picks_the_slowest_level_crossed():
    system = load_system("h100-sxm:devices=8,nodes=4,nic_Gbps=800")
    assert system.level_for(8).name == "NVLink 4"
    assert system.level_for(9).name == "infiniband"
    with pytest.raises(ValueError, match="group of 33"):
        system.level_for(33)


@pytest.mark.parametrize("ref, words", [
    ("h100-sxm:devices=16", "scale-up domain of 8"),
    ("h100-sxm:devices=0", "devices must be a positive whole number"),
    ("h100-sxm:devices=eight", "'eight'"),
    ("h100-sxm:devices=8.0", "'8.0'"),
    ("h100-sxm:gpus=8", "unknown option(s) gpus"),
    ("h100-sxm:devices", "'devices' must be key=value"),
    ("h100-sxm:devices=", "must be key=value"),
    ("h100-sxm:nodes=2,nic_Gbps=0", "nic_Gbps must be between"),
    ("h100-sxm:nodes=2,nic_Gbps=fast", "'fast'"),
    ("h100-sxm:nodes=-1", "nodes must be a positive whole number"),
])
def test_bad_reference_options(ref, words):
    with pytest.raises(ValueError) as info:
        load_system(ref)
    assert words in str(info.value) and repr(ref) in str(info.value)


@pytest.mark.parametrize("ref, close", [("h100-sx", "h100-sxm"), ("h100_sxm", "h100-sxm"),
                                        ("H100-SXN:devices=8", "h100-sxm")])
def test_unknown_names_suggest_close_ones(ref, close):
    with pytest.raises(LookupError, match=f"did you mean .*{close}"):
        load_system(ref)
    with pytest.raises(LookupError, match=f"unknown device .*did you mean .*{close}"):
        load_device(ref.partition(":")[0])


def test_unknown_far_name_lists_known_ones():
    with pytest.raises(LookupError, match="known: .*h100-sxm"):
        load_device("quantum-abacus")


def test_system_yaml_and_scaled_out_reference(tmp_path):
    raw = _system_raw("box", scale_out={"fabric": "roce",
                                        "nic_bw_Gbps": {"value": 200, "source": "test"}})
    path = write_spec(tmp_path, raw, stem="box")
    system = load_system(str(path))
    assert (system.name, system.num_devices, system.path) == ("box", 8, str(path))
    assert _levels(system) == [("NVLink 4", 8, 450e9)]
    bigger = load_system(f"{path}:nodes=4,nic_Gbps=800")
    assert _levels(bigger) == [("NVLink 4", 8, 450e9), ("roce", 32, 100e9)]
    four = load_system(f"{path}:nodes=4")
    assert _levels(four) == [("NVLink 4", 8, 450e9), ("roce", 32, 25e9)]
    with pytest.raises(ValueError, match="unknown option"):
        load_system(f"{path}:devices=4")


@pytest.mark.parametrize("edit, field, words", [
    (lambda r: r.update(device="h100-sx"), "device", "did you mean h100-sxm"),
    (lambda r: r["devices_per_node"].update(value=16), "devices_per_node", "scale-up domain"),
    (lambda r: r["nodes"].update(value=0), "nodes", "plausible range"),
    (lambda r: r.update(vendor="NVIDIA"), "vendor", "unknown field"),
    (lambda r: r.update(name="other"), "name", "file name"),
])
def test_bad_system_files(tmp_path, edit, field, words):
    raw = _system_raw("box")
    edit(raw)
    path = write_spec(tmp_path, raw, stem="box")
    with pytest.raises(SpecError) as info:
        load_system(str(path))
    assert str(info.value).startswith(f"{path}: field '{field}': ")
    assert words in str(info.value)


def test_device_yaml_path_as_a_system_reference(tmp_path):
    raw = h100_raw()
    del raw["scale_out"]
    path = write_spec(tmp_path, raw)
    assert _levels(load_system(f"{path}:devices=4")) == [("NVLink 4", 4, 450e9)]
    with pytest.raises(ValueError, match="no scale-out NIC"):
        load_system(f"{path}:nodes=2")


def test_every_shipped_spec_loads():
    devices = hwspecs.load_all_devices()
    assert [d.name for d in devices] == hwspecs.device_names()
    assert all(Path(d.path).stem == d.name for d in devices)
    for name in hwspecs.system_names():
        assert load_system(name).name == name


@pytest.mark.parametrize("ref, levels", [
    ("dgx-h100", [("NVLink 4", 8, 450e9)]),
    ("dgx-h100:nodes=4", [("NVLink 4", 8, 450e9), ("infiniband", 32, 50e9)]),
    ("dgx-h100:nodes=4,nic_Gbps=800,fabric=roce", [("NVLink 4", 8, 450e9), ("roce", 32, 100e9)]),
])
def test_shipped_system_scales_out_on_its_own_fabric(ref, levels):
    assert "dgx-h100" in hwspecs.system_names(), "hwspecs/systems/dgx-h100.yaml is not shipped"
    assert _levels(load_system(ref)) == levels
