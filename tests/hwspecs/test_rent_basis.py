"""Every shipped rent is on the one basis (`hwspecs.schema.RENT_BASIS`): an on-demand list
price of a named cloud, with its source and date; a part no cloud lists says so and how to
price it; a rent without its provider is refused naming the field."""

from __future__ import annotations

import re

import pytest

from hwspecs import load_all_devices
from hwspecs.errors import SpecError
from hwspecs.load import read_yaml
from hwspecs.registry import load_device
from hwspecs.schema import RENT_BASIS
from tests.hwspecs.helpers_specs import delete_at, h100_raw, write_spec

DEVICES = load_all_devices()


@pytest.mark.parametrize("d", DEVICES, ids=lambda d: d.name)
def test_every_shipped_rent_names_its_cloud_source_and_date(d):
    if d.rent_usd_per_s is None:
        why = d.not_sourced["price.rent_usd_per_hour"]
        assert "list price" in why and f"--usd-per-gpu-hour {d.name}=" in why
        return
    entry = read_yaml(d.path)["price"]["rent_usd_per_hour"]
    assert d.rent_provider and d.rent_provider == entry["provider"]
    assert re.fullmatch(r"\d{4}-\d{2}", entry["date"])
    assert entry["date"] in d.sources["price.rent_usd_per_hour"]
    assert d.rent_provider.split()[0] in d.sources["price.rent_usd_per_hour"] \
        or d.rent_provider in entry.get("note", "")


def test_one_provider_per_family_so_ratios_within_it_hold():
    by_vendor: dict[str, set[str]] = {}
    for d in DEVICES:
        if d.rent_usd_per_s is not None:
            by_vendor.setdefault(d.vendor, set()).add(d.rent_provider)
    assert by_vendor["AMD"] == {"TensorWave"}
    assert by_vendor["Google"] == {"Google Cloud"}
    # NVIDIA: CoreWeave wherever its list has the part; the two it lacks say whose list it is
    coreweave = {d.name for d in DEVICES if d.rent_provider == "CoreWeave"}
    assert coreweave == {"h100-sxm", "h200-sxm", "b200", "gb200", "a100-sxm-80gb", "l40s"}
    assert {d.name: d.rent_provider for d in DEVICES if d.vendor == "NVIDIA"
            and d.name not in coreweave and d.rent_provider} == \
        {"h100-pcie": "RunPod", "l4": "Google Cloud"}
    assert "CoreWeave" in RENT_BASIS and "on-demand list" in RENT_BASIS


def test_coreweave_rents_are_the_instance_price_over_its_gpus():
    # kaelresearch.com's table of CoreWeave list prices, February 2026, per instance
    instance = {"h100-sxm": (49.24, 8), "h200-sxm": (50.44, 8), "b200": (68.80, 8),
                "gb200": (42.00, 4), "a100-sxm-80gb": (21.60, 8), "l40s": (18.00, 8)}
    for name, (usd, gpus) in instance.items():
        assert load_device(name).rent_usd_per_hour == pytest.approx(usd / gpus, rel=1e-12)


def test_a_rent_without_its_provider_is_refused_naming_the_field(tmp_path):
    raw = h100_raw()
    delete_at(raw, "price.rent_usd_per_hour.provider")
    with pytest.raises(SpecError, match=r"price\.rent_usd_per_hour.*provider"):
        load_device(str(write_spec(tmp_path, raw)))
