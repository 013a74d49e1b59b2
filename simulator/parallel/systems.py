"""The system a plan runs on: a shipped system, or a device scaled out to hold the plan's GPUs;
and the data-parallel degree that fills a GPU count."""

from __future__ import annotations

from hwspecs import System, load_system


def data_parallel(gpus: int, tp: int, pp: int, cp: int = 1) -> int:
    """The DP degree that fills `gpus` with tp x pp x cp model-parallel groups."""
    group = tp * pp * cp
    if gpus < group or gpus % group:
        raise ValueError(f"--gpus {gpus} is not a multiple of tp x pp x cp = {group}")
    return gpus // group


def system_for_gpus(ref: str, gpus: int | None) -> System:
    """The system `ref` names, scaled out to hold `gpus` devices where it holds fewer: more
    nodes of a shipped system, or a device's scale-up domain and then nodes of it."""
    system = load_system(ref)
    if gpus is None or gpus <= system.num_devices:
        return system
    if ":" in ref:
        raise ValueError(f"system {ref!r} has {system.num_devices} devices, fewer than "
                         f"--gpus {gpus}; give it nodes=... yourself")
    per_node = system.devices_per_node
    if system.num_devices == 1:
        up = system.device.scale_up
        per_node = min(gpus, up.domain_size) if up else 1
        nodes = -(-gpus // per_node)
        return load_system(f"{ref}:devices={per_node}" + (f",nodes={nodes}" if nodes > 1
                                                          else ""))
    return load_system(f"{ref}:nodes={-(-gpus // per_node)}")
