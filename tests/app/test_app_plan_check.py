"""Validation page, plan check: the table equals `plan_kernel_check` for the same plan."""

from __future__ import annotations

from hwspecs.dtypes import DType
from simulator import KernelSource, Options, Plan, Precision, plan_kernel_check, system_for_gpus
from workloads import get_workload


def test_plan_check_table_and_chart(make_app):
    at = make_app(run=False, pc_model="llama-3.1-8b", pc_tp=2, pc_batch=4, pc_context=256)
    at.run()
    at.switch_page("app_pages/validation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = len(at.dataframe)
    at.button(key="pc_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[shown].value
    w = get_workload("llama-3.1-8b", "decode", batch=4, seq=1, context=256, dtype=DType.BF16)
    want = plan_kernel_check(w, system_for_gpus("dgx-h100", 2), Plan(tp=2),
                             Options(precision=Precision.parse("bf16"), engine="trtllm",
                                     kernels=KernelSource.MEASURED))
    assert sorted(table["priced_s"] * table["count"]) == \
        sorted(want["priced_s"] * want["count"])
    assert "priced from measurements" in at.caption[-1].value
