"""Rebuild the shipped GPU measurement sets and the profiles fitted on them.

    python -m validation.fit.shipped ../shared/reference/measured/aiconfigurator

For each GPU folder and engine of aiconfigurator's data: import a seeded sample of every
table (`SAMPLE_PER_TABLE` rows, the whole table where smaller) into
`validation/data/<device>-<engine>/`, fit it (`archsim calibrate`'s fit) and write
`hwspecs/calibration/<device>.<engine>.yaml`. The sample is what the profile is fitted on and
what a bare `archsim validate` scores (its held-out quarter), so anyone can re-check a shipped
profile from the repository alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

from validation.measure.aiconfigurator import DEVICE_FOLDERS, ENGINES, import_aiconfigurator

SAMPLE_PER_TABLE = 4000
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def rebuild(source: str | Path, devices: list[str] | None = None,
            engines: tuple[str, ...] = ENGINES) -> list[Path]:
    """Import, fit and save every (device, engine) found under `source`; the profile paths."""
    from validation.fit.calibrate import calibrate_set

    written = []
    for folder in sorted(Path(source).iterdir()):
        if folder.name not in DEVICE_FOLDERS or (devices and folder.name not in devices):
            continue
        for engine in engines:
            out = DATA_DIR / f"{DEVICE_FOLDERS[folder.name]}-{engine}"
            try:
                import_aiconfigurator(folder, out, engine=engine, sample=SAMPLE_PER_TABLE)
            except ValueError as exc:        # this engine has no tables for this GPU
                print(f"skipped {folder.name} {engine}: {exc}")
                continue
            result = calibrate_set(out, engine=engine)
            print(f"{result.path}:\n{result.errors.to_string(index=False)}")
            written.append(result.path)
    return written


if __name__ == "__main__":
    rebuild(sys.argv[1], sys.argv[2:] or None)
