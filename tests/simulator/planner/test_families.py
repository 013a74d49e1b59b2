"""Plan families and their published error: names, status, the table file, the searches."""

from __future__ import annotations

import pytest
import yaml

from simulator.core.memory import Recompute
from simulator.parallel.plan import Plan
from simulator.planner import families as fam
from simulator.planner.families import FamilyError, FamilyStatus, family_of
from simulator.planner.search import TrainSpace, search_training
from simulator.training.step import prepare
from tests.simulator import transformer_synthetic as ts
from tests.simulator.comm.test_comm import round_system


def test_a_family_names_the_dimensions_used_and_whether_the_plan_crosses_nodes():
    assert family_of(Plan(), 8, True) == "train: one GPU"
    assert family_of(Plan(tp=8), 8, False) == "infer: TP, within a node"
    assert family_of(Plan(dp=512, zero=3), 8, True) == "train: ZeRO-3, across nodes"
    assert family_of(Plan(dp=8, zero=3), 8, True) == "train: ZeRO-3, within a node"
    # ZeRO-1/2 move DP's bytes: one family with it.
    assert family_of(Plan(tp=2, pp=2, dp=128, zero=2), 8, True) == \
        "train: TP+PP+DP, across nodes"
    assert family_of(Plan(tp=2, pp=2, dp=128), 8, True) == "train: TP+PP+DP, across nodes"
    assert family_of(Plan(tp=2, cp=2, dp=2, zero=3), 8, True) == "train: TP+CP+ZeRO-3, within a node"


def test_status_marks_unvalidated_and_off_families():
    assert FamilyError("x").status is FamilyStatus.UNVALIDATED and FamilyError("x").marked
    good = FamilyError("x", 12, 0.14, 0.10, ("a",))
    off = FamilyError("x", 38, 1.69, 0.15, ("a", "b"))
    assert good.status is FamilyStatus.VALIDATED and not good.marked
    assert good.label() == "±14% (12)"
    assert off.status is FamilyStatus.OFF and off.marked and off.label().startswith("! off")
    assert FamilyError("x").label() == "! unvalidated"
    assert off.as_dict()["status"] == "off" and off.as_dict()["marked"] is True


def _write(path, families):
    path.write_text(yaml.safe_dump({"source": "test", "families": families}))
    return path


def test_the_table_file_is_read_strictly(tmp_path):
    ok = _write(tmp_path / "ok.yaml", {"train: DP, across nodes": {
        "cases": 3, "median_abs_error": 0.3, "median_error": -0.2, "sources": ["a"]}})
    table = fam.check_family_file(ok)
    assert table["train: DP, across nodes"].status is FamilyStatus.OFF
    bad = _write(tmp_path / "bad.yaml", {"f": {"cases": 0, "median_abs_error": -1,
                                               "median_error": 0, "sources": []}})
    with pytest.raises(ValueError, match="bad.yaml: family 'f' needs cases > 0"):
        fam.check_family_file(bad)
    (tmp_path / "none.yaml").write_text("families: {}\n")
    with pytest.raises(ValueError, match="a mapping with a 'source'"):
        fam.check_family_file(tmp_path / "none.yaml")


def test_the_shipped_table_loads_and_says_where_it_comes_from():
    table = fam.load_family_errors()
    assert table, "hwspecs/calibration/plan_families.yaml is missing: run validate --published --save"
    assert all(e.cases > 0 and e.median_abs_error >= 0 for e in table.values())
    raw = yaml.safe_load(fam.FAMILY_FILE.read_text())
    assert "validate --published --save" in raw["source"]


def test_every_ranked_plan_carries_its_family_error(monkeypatch):
    table = {"train: DP, within a node": FamilyError("train: DP, within a node", 5, 0.1, 0.05,
                                                     ("s",)),
             "train: ZeRO-3, within a node": FamilyError("train: ZeRO-3, within a node", 4,
                                                         0.6, 0.5, ("s",))}
    monkeypatch.setattr(fam, "load_family_errors", lambda: table)
    arch = ts.Arch(layers=2, hidden=512, heads=8, kv_heads=8, ffn=1024, vocab=1000)
    prep = prepare(ts.train(arch, 1, 256), round_system())
    result = search_training(prep, gpus=4, global_batch=8, space=TrainSpace(
        tp=(1, 2), pp=(1,), zero=(0, 3), recompute=(Recompute.NONE,)))
    assert len(result.uncertainty) == len(result.ranked) > 0
    for r, u in zip(result.ranked, result.uncertainty, strict=True):
        assert u.family == family_of(r.plan, 8, True)
        expected = {"train: DP, within a node": FamilyStatus.VALIDATED,
                    "train: ZeRO-3, within a node": FamilyStatus.OFF}.get(
                        u.family, FamilyStatus.UNVALIDATED)
        assert u.status is expected
