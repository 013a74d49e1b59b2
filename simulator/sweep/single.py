"""Single-device sweep points: `simulate` of every spec variant of a device, priced at once.

The points are `core.simulate.device_metrics` (the pricing core with V variants), so each one
equals `simulate(workload, device.scaled(factors), options)` to the last bit.
"""

from __future__ import annotations

from hwspecs.schema import DeviceSpec
from simulator.core.metrics import Metrics
from simulator.core.options import Options
from simulator.core.simulate import device_metrics
from simulator.core.variants import Variants
from workloads.op import Workload


def single_points(w: Workload, device: DeviceSpec, variants: Variants, options: Options
                  ) -> tuple[Metrics, str]:
    """(the points, '') or (missing points, why) where the device cannot run the precision."""
    try:
        return device_metrics(w, device, options, variants), ""
    except ValueError as e:
        return Metrics.missing(len(variants)), str(e)
