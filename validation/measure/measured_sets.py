"""Find measurement sets: a measurement file and the device spec measured with it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hwspecs.registry import load_device
from hwspecs.schema import DeviceSpec
from validation.measure.records import Measurements, read_measurements

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class MeasuredSet:
    measurements: Measurements
    device: DeviceSpec


def _spec_beside(folder: Path) -> Path:
    specs = sorted(folder.glob("*.yaml"))
    if len(specs) != 1:
        raise ValueError(f"{folder}: expected one device spec (*.yaml, from `archsim bench "
                         f"--emit-spec`) beside the measurements, found {len(specs)}; name one "
                         "with --spec")
    return specs[0]


def load_set(path: str | Path, spec: str | None = None) -> MeasuredSet:
    """`path` is a measurement .csv/.json or a folder holding kernels-full (else -quick)."""
    path = Path(path)
    if path.is_dir():
        for stem in ("kernels-full", "kernels-quick"):
            if (path / f"{stem}.json").exists():
                path = path / f"{stem}.json"
                break
        else:
            raise ValueError(f"{path}: no kernels-full.json or kernels-quick.json measurement "
                             "file in this folder")
    m = read_measurements(path)
    if spec:
        device = load_device(spec)
    elif m.meta.get("device_ref") and not list(m.csv_path.parent.glob("*.yaml")):
        device = load_device(m.meta["device_ref"])     # imported: a shipped device
    else:
        device = load_device(str(_spec_beside(m.csv_path.parent)))
    return MeasuredSet(m, device)


def shipped_sets() -> list[Path]:
    """Folders under validation/data that hold a measurement file."""
    return sorted(p.parent for p in DATA_DIR.glob("*/kernels-*.json"))
