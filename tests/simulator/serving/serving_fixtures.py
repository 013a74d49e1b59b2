"""A tiny Llama served on one H100: fast traces for the serving and capacity tests."""

from __future__ import annotations

import json

import pytest

from hwspecs.registry import load_system
from simulator.serving.iteration_cost import IterationCost
from simulator.serving.replica import ReplicaSpec
from tests.cli.test_training_cli import TINY_LLAMA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny-llama-serving")
    (folder / "config.json").write_text(json.dumps(TINY_LLAMA))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_spec(tiny_model) -> ReplicaSpec:
    return ReplicaSpec(tiny_model, load_system("h100-sxm"))


@pytest.fixture(scope="session")
def tiny_cost(tiny_spec) -> IterationCost:
    return IterationCost(tiny_spec, max_context=1024)
