"""Validation page: the error tables equal `validation`'s for the same set and sources."""

from __future__ import annotations

import pandas as pd
import pytest

from simulator.core.profile_choice import profile_for
from tests.app import expected
from validation.compare.kernels import fitted_on_this_data, kernel_comparison, scored_errors
from validation.measure.measured_sets import load_set, shipped_sets

SETS = shipped_sets()


def _validation(make_app, **inputs):
    at = make_app(run=False, **inputs)
    at.run()
    at.switch_page("app_pages/validation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_held_out_errors_equal_the_api_per_kernel_class(make_app):
    assert SETS, "validation/data holds no measurement set"
    at = _validation(make_app, va_set=SETS[0].name)
    m = load_set(SETS[0])
    profile = profile_for(m.device, m.measurements.meta.get("engine"))
    fitted_here = fitted_on_this_data(profile, m.measurements.meta)
    assert fitted_here, "the shipped set's own profile was fitted on it"
    comparison = kernel_comparison(m.measurements.frame, m.device, profile)
    errors, kernels = at.dataframe[0].value, at.dataframe[1].value
    pd.testing.assert_frame_equal(errors.reset_index(drop=True),
                                  scored_errors(comparison, True).reset_index(drop=True))
    assert list(kernels["predicted_s"]) == list(comparison["predicted_s"])

    chosen = sorted(comparison["class"].unique())[:2]
    at.multiselect(key="in_va_kernels").set_value(chosen)
    at.run()
    assert not at.exception
    part = comparison[comparison["class"].isin(chosen)]
    errors = at.dataframe[0].value
    assert set(errors["kernel"]) <= set(chosen)
    want = scored_errors(part, True).set_index(["kernel", "dtype"])
    for _, row in errors.iterrows():
        assert row["median_ape_pct"] == expected.approx(
            want.loc[(row["kernel"], row["dtype"]), "median_ape_pct"])
    assert m.device.name in at.caption[0].value
    assert profile.origin in at.caption[0].value


def test_no_set_says_so(make_app, monkeypatch, tmp_path):
    import validation.measure.measured_sets as sets

    monkeypatch.setattr(sets, "DATA_DIR", tmp_path)
    at = _validation(make_app)
    assert any("No measurement set is shipped yet" in i.value for i in at.info)


def test_published_results_behind_a_button(make_app):
    from validation.compare.published import compare_published

    at = _validation(make_app, va_sources=["gpt-fast"])
    shown = len(at.dataframe)
    at.button(key="va_published").click().run()
    assert not at.exception, [e.value for e in at.exception]
    want = compare_published(["gpt-fast"])
    summary, cases = at.dataframe[shown].value, at.dataframe[shown + 1].value
    assert list(cases["case_id"]) == [r.case_id for r in want.results]
    assert list(cases["predicted"]) == pytest.approx([r.predicted for r in want.results],
                                                     rel=1e-12)
    assert summary.loc[0, "median_abs_error"] == expected.approx(
        want.summary()[0].median_abs_error)
