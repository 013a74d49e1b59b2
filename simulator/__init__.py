"""archsim's cost model: the public API the faces (CLI, app) and users import.

    from simulator import Options, Precision, simulate
    report = simulate(workload, device, Options(precision=Precision.parse("fp8")))

Every name below loads its module on first use, so `import simulator` stays instant and a
command pays only for what it prices. The rooms and what each holds: docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> the module that defines it
_EXPORTS = {
    # core: one device, the pricing core, the shared vocabulary
    "simulator.core.arrays": ("KINDS", "OpArrays", "to_arrays"),
    "simulator.core.cost": ("CostOptions", "CostSummary", "PricingMode", "summarize"),
    "simulator.core.memory": ("Footprint", "Recompute"),
    "simulator.core.metrics": ("METRIC_NAMES", "Metrics"),
    "simulator.core.options": ("Options",),
    "simulator.core.measured_pricing": ("KernelSource", "kernel_check", "kernel_fields",
                                        "measured_share", "parse_kernels",
                                        "workload_kernel_check"),
    "simulator.core.measured_tables": ("Fallback", "measured_kernels"),
    "simulator.core.precision": ("Precision",),
    "simulator.core.pricing": ("BOUNDS", "Bound", "KernelTimes", "price"),
    "simulator.core.profile": ("CALIBRATION_DIR", "DEFAULT_ENGINE", "ENGINES",
                               "EfficiencyProfile", "check_profile_file", "default_profile",
                               "load_profile"),
    "simulator.core.profile_choice": ("profile_for", "resolve_profile"),
    "simulator.core.transfer": ("check_widening_file",),
    "simulator.core.report": ("Report",),
    "simulator.core.simulate": ("compare", "device_metrics", "simulate"),
    "simulator.core.variants": ("Variants",),
    # many devices
    "simulator.comm.costs": ("collective_time_s",),
    "simulator.parallel.plan": ("Overlap", "Plan", "PlanError", "Schedule", "check_plan"),
    "simulator.parallel.systems": ("data_parallel", "system_for_gpus"),
    "simulator.training.step": ("TrainingReport", "evaluate", "prepare", "simulate_training"),
    "simulator.training.kernel_check": ("training_measured_share",),
    "simulator.inference.kernel_check": ("plan_kernel_check", "request_measured_share"),
    "simulator.inference.request": ("InferenceReport", "InferenceWorkloads", "decode_context",
                                    "simulate_inference"),
    # serving and capacity
    "simulator.serving.capacity": ("CapacityPlan", "CapacityQuery", "Candidate", "Refusal",
                                   "plan_capacity"),
    "simulator.serving.capacity_cost": ("OUTLIER_COST_RATIO", "OUTLIER_REPLICAS"),
    "simulator.serving.steady_state": ("STEADY_STATE", "SteadyState"),
    "simulator.serving.closed_loop": ("ClosedLoop", "ClosedLoopResult", "Pool",
                                      "simulate_closed_loop"),
    "simulator.serving.engines": ("EngineSettings", "SERVING_ENGINES", "engine_settings",
                                  "replica_setup"),
    "simulator.serving.frontier": ("Frontier", "FrontierPoint", "FrontierQuery",
                                   "concurrency_frontier"),
    "simulator.serving.lengths": ("LengthDist", "parse_length"),
    "simulator.serving.measured_share": ("open_loop_measured_share", "serving_measured_share"),
    "simulator.serving.replica": ("ReplicaSpec",),
    "simulator.serving.scheduler": ("SchedulerConfig",),
    "simulator.serving.simulation": ("ServingResult", "Slo", "Traffic", "simulate_serving"),
    # search and sweeps
    "simulator.planner.search": ("SearchResult", "TrainSpace", "search_inference",
                                 "search_training"),
    "simulator.planner.families": ("FAMILY_OFF_ABOVE", "FamilyError", "FamilyStatus",
                                   "check_family_file", "family_of", "plan_uncertainty"),
    "simulator.sweep.grid": ("Grid", "grid_from_dict"),
    "simulator.sweep.run": ("SweepRun", "load_grid", "load_results", "run_sweep"),
    "simulator.sweep.kernels": ("unmeasured_devices",),
    "simulator.sweep.summary": ("AXES", "axes_of", "best_points", "pareto_front"),
    "simulator.sweep.reprice": ("reprice", "sweep_rents"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
assert len(_WHERE) == sum(len(n) for n in _EXPORTS.values()), "a public name is listed twice"
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
