"""What priced a sweep's points: the grid's `kernels` (model, measured, measured:DIR) per
device, and the share of each point's time the measurements priced.

A device with no measurements under its engine is priced by the fitted model (its points say
`kernels: model`), as `infer --kernels measured` prices it; `unmeasured_devices` names those
devices so the sweep can say so once. A records folder (`measured:DIR`) holds one device's
records: naming it for a device it does not hold is refused, as `infer` refuses it.

NB: a point's `measured_share` is taken on the unscaled device (one per device, plan and
precision): a variant's measured kernels move with its model times (`measured_pricing`), so
the share stays close to it unless the variant shifts the balance between kernel classes.
"""

from __future__ import annotations

from dataclasses import replace

from hwspecs.schema import DeviceSpec
from simulator.core.measured_pricing import KernelSource, MeasuredProfile, kernel_fields
from simulator.core.options import Options
from simulator.sweep.grid import Grid


def sweep_options(grid: Grid, precision) -> Options:
    """How the grid prices its points at one precision."""
    from simulator.core.memory import Recompute

    return Options(precision=precision, ideal=grid.ideal,
                   recompute=Recompute.parse(grid.recompute), cost=grid.cost_options(),
                   **kernel_fields(grid.kernels))


def source_on(device: DeviceSpec, options: Options) -> KernelSource:
    """MEASURED where `options` ask for the measurements and `device` has some under its
    engine (a bad records folder is refused here), else MODEL."""
    if options.kernels is not KernelSource.MEASURED:
        return KernelSource.MODEL
    profile = options.profile_for(device)
    if isinstance(profile, MeasuredProfile) and profile.measured.grids:
        return KernelSource.MEASURED
    return KernelSource.MODEL


def unmeasured_devices(grid: Grid) -> list[str]:
    """With `kernels: measured`, the grid's devices nothing measured (each with its engine),
    whose points the model prices; [] with the model. Refuses a records folder that does not
    hold a device's records, in one sentence."""
    from hwspecs import load_device

    options = replace(sweep_options(grid, grid.precisions[0]), ideal=False)
    if options.kernels is not KernelSource.MEASURED:
        return []
    out = []
    for ref in grid.devices:
        device = load_device(ref)
        if source_on(device, options) is KernelSource.MODEL:
            out.append(f"{device.name} ({options.profile_for(device).engine})")
    return out


def point_share(compute) -> float:
    """`measured_share` of one priced point."""
    return float(compute()["measured_share"])
