"""How to price: one options type for a single device, training plans and inference plans."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hwspecs.schema import DeviceSpec
from simulator.core.cost import CostOptions
from simulator.core.measured_pricing import KernelSource, with_measured
from simulator.core.memory import Recompute
from simulator.core.precision import Precision
from simulator.core.profile import EfficiencyProfile, check_engine
from simulator.core.profile_choice import resolve_profile


@dataclass(frozen=True)
class Options:
    precision: Precision = field(default_factory=Precision)
    ideal: bool = False                           # speed of light: efficiencies 1, no overhead
    profile: EfficiencyProfile | None = None      # None: the device's fitted or default one
    cost: CostOptions = field(default_factory=CostOptions)
    recompute: Recompute = Recompute.NONE         # one device's training step (plans: Plan's)
    tp_plan: Mapping[str, str] | None = None      # the model's transformers base_model_tp_plan
    engine: str | None = None                     # whose fitted kernels price it (profile.ENGINES)
    kernels: KernelSource = KernelSource.MODEL    # MEASURED: from measurements where they cover
    kernels_dir: str | None = None                # the measured records (None: the committed set)

    def __post_init__(self) -> None:
        check_engine(self.engine)

    def profile_for(self, device: DeviceSpec) -> EfficiencyProfile:
        """The profile that prices `device` under these options."""
        chosen = resolve_profile(device, self.profile, self.ideal, self.engine)
        if self.kernels is KernelSource.MEASURED and not self.ideal:
            return with_measured(chosen, device, self.engine, self.kernels_dir)
        return chosen
