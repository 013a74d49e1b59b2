"""`training_measured_share`: a step's kernels weighted as the step runs them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwspecs.dtypes import DType
from simulator import (
    KernelSource,
    Options,
    Plan,
    Recompute,
    prepare,
    system_for_gpus,
    training_measured_share,
)
from workloads import get_workload


@pytest.fixture(scope="module")
def prep():
    w = get_workload("gpt2", "train", batch=1, seq=128, dtype=DType.BF16)
    return prepare(w, system_for_gpus("h100-sxm", 1), Options(kernels=KernelSource.MEASURED))


def test_forward_kernels_are_measured_and_backward_ones_fall_back(prep):
    share = training_measured_share(prep, Plan())
    assert 0.0 < share["measured_share"] < 1.0
    reasons = {r["reason"] for r in share["fell_back"]}
    assert any(r.startswith("a backward kernel") for r in reasons)


def test_recomputing_the_forward_raises_the_measured_share(prep):
    """Full recompute runs every layer's forward twice: more of the step is measured."""
    none = training_measured_share(prep, Plan())["measured_share"]
    full = training_measured_share(prep, replace(Plan(), recompute=Recompute.FULL))
    assert full["measured_share"] > none


def test_micro_batches_weigh_the_kernels_not_the_optimizer_step(prep):
    one = training_measured_share(prep, Plan(micro_batch=1, global_batch=1))
    four = training_measured_share(prep, Plan(micro_batch=1, global_batch=4))
    assert four["measured_share"] > one["measured_share"]   # the optimizer step is the model's
