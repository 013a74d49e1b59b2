"""The published comparison grouped by plan family (what `validate --published --save` keeps)."""

from __future__ import annotations

import yaml

from simulator.planner.families import check_family_file
from validation.compare.published import CaseResult, PublishedComparison
from validation.compare.published_cases import MEGATRON_T2, MPT
from validation.compare.published_families import case_families, family_table, save_family_table


def _row(case_id, source, predicted, published=100.0):
    return CaseResult(case_id, source, "", "m", predicted, published, True, "")


def test_every_published_case_has_a_family():
    families = case_families()
    assert families["megatron2021_t2_3"] == "train: ZeRO-3, across nodes"
    assert families["megatron2021_t2_7"] == "train: TP+PP+DP, across nodes"
    assert families["mpt_350m_2048_8gpu_bf16_a10040gb_noac_gb512"] == \
        "train: ZeRO-3, within a node"


def test_a_family_is_as_known_as_its_worst_source(tmp_path):
    # ZeRO-3 across nodes: MPT errors +10%, -20%, +30% (median |err| 20%), Megatron Table 2
    # +100%, +300% (median 200%): the family's error is 200%, the signed median of all five
    # is +30%. A case that could not run (None) is left out.
    result = PublishedComparison((
        _row("mpt_3b_2048_128gpu_bf16_a10040gb_noac_gb768", MPT, 110.0),
        _row("mpt_3b_2048_64gpu_bf16_a10040gb_noac_gb384", MPT, 80.0),
        _row("mpt_3b_2048_32gpu_bf16_a10040gb_noac_gb192", MPT, 130.0),
        _row("megatron2021_t2_1", MEGATRON_T2, 200.0),
        _row("megatron2021_t2_2", MEGATRON_T2, 400.0),
        _row("megatron2021_t2_3", MEGATRON_T2, None)), ())
    table = family_table(result)
    entry = table["train: ZeRO-3, across nodes"]
    assert entry["cases"] == 5 and entry["median_abs_error"] == 2.0
    assert entry["median_error"] == 0.3
    assert entry["by_source"][MPT] == {"cases": 3, "median_abs_error": 0.2}
    path = save_family_table(result, tmp_path / "families.yaml")
    assert "validate --published --save" in yaml.safe_load(path.read_text())["source"]
    assert check_family_file(path)["train: ZeRO-3, across nodes"].marked


def test_the_shipped_table_names_only_families_of_published_cases():
    # A family renamed in family_of but not re-saved would never match a plan: regenerate the
    # table with `archsim validate --published --save`.
    from simulator.planner.families import load_family_errors

    assert set(load_family_errors()) <= set(case_families().values())
