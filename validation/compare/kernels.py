"""Predicted vs measured: error tables, plots and a Markdown report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hwspecs.schema import DeviceSpec
from simulator.core.profile import EfficiencyProfile
from validation.fit.calibrate import error_table, holdout_mask, record_classes
from validation.fit.predict import predict_s


def kernel_comparison(frame: pd.DataFrame, device: DeviceSpec,
                      profile: EfficiencyProfile) -> pd.DataFrame:
    """One row per measured kernel: measured and predicted seconds, error, held out or not."""
    predicted = predict_s(frame, device, profile)
    out = frame[["kernel", "op", "impl", "dtype", "flops", "read_bytes", "write_bytes",
                 "median_s", "noise_riqr"]].copy()
    out["predicted_s"] = predicted
    out["error_pct"] = (predicted - out["median_s"]) / out["median_s"] * 100.0
    out["held_out"] = holdout_mask(frame)
    out["class"] = record_classes(frame)
    return out


def held_out_errors(comparison: pd.DataFrame) -> pd.DataFrame:
    rows = comparison["held_out"].to_numpy()
    return error_table(comparison, comparison["predicted_s"].to_numpy(), rows)


def fitted_on_this_data(profile: EfficiencyProfile, meta: dict) -> bool:
    """True when the profile was fitted on exactly these records (their checksum)."""
    return bool(profile.fitted_data) and profile.fitted_data == meta.get("sha256")


def scored_errors(comparison: pd.DataFrame, fitted_here: bool) -> pd.DataFrame:
    """The error table a validation reports: the held-out quarter where the profile was
    fitted on these records, every record where it was not (a transferred profile)."""
    if fitted_here:
        return held_out_errors(comparison)
    return error_table(comparison, comparison["predicted_s"].to_numpy())


def class_errors(table: pd.DataFrame) -> list[dict]:
    """`error_table` rows as `validate --json` prints them: errors as fractions."""
    return [{"kernel": r.kernel, "dtype": r.dtype, "cases": int(r.cases),
             "median_abs_error": round(float(r.median_ape_pct) / 100, 6),
             "p90_abs_error": round(float(r.p90_ape_pct) / 100, 6)}
            for r in table.itertuples()]


SCATTER_POINTS = 400


def plot_scatter(comparison: pd.DataFrame, title: str, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    for kernel, rows in comparison.groupby("class"):
        if len(rows) > SCATTER_POINTS:          # a readable plot: a seeded sample per class
            rows = rows.sample(SCATTER_POINTS, random_state=0)
        held = rows["held_out"].to_numpy()
        ax.scatter(rows["median_s"][~held], rows["predicted_s"][~held], s=12, alpha=0.6,
                   label=f"{kernel} (fit)")
        ax.scatter(rows["median_s"][held], rows["predicted_s"][held], s=30, marker="x",
                   label=f"{kernel} (held out)")
    lo = float(min(comparison["median_s"].min(), comparison["predicted_s"].min()))
    hi = float(max(comparison["median_s"].max(), comparison["predicted_s"].max()))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured seconds")
    ax.set_ylabel("predicted seconds")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_errors(table: pd.DataFrame, title: str, path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(table)), 4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["median_ape_pct"], width=0.4, label="median")
    ax.bar(x + 0.2, table["p90_ape_pct"], width=0.4, label="p90")
    labels = table["kernel"] + (" " + table["dtype"] if "dtype" in table else "")
    ax.set_xticks(x, labels, rotation=40, ha="right", fontsize=7)
    ax.set_ylabel("absolute error, % (held out)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def markdown_table(frame: pd.DataFrame, digits: int = 1) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(comparison: pd.DataFrame, device: DeviceSpec, profile: EfficiencyProfile,
                 folder: str | Path, fitted_here: bool = True) -> Path:
    """validation report: the error table (held out, or every record for a profile fitted
    elsewhere), two plots, and how it was made."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    table = scored_errors(comparison, fitted_here)
    plot_scatter(comparison, f"{device.name}: predicted vs measured", folder / "scatter.png")
    plot_errors(table, f"{device.name}: held-out error by kernel class",
                folder / "errors.png")
    text = "\n".join([
        f"# Validation on {device.display_name}",
        "",
        f"Profile: {profile.origin} ({profile.source}).",
        (f"{int(comparison['held_out'].sum())} of {len(comparison)} kernels were held out of "
         "the fit; the table shows those." if fitted_here else
         f"The profile was not fitted on these {len(comparison)} kernels; the table scores "
         "them all."),
        "",
        markdown_table(table),
        "",
        "![predicted vs measured](scatter.png)",
        "",
        "![error by class](errors.png)",
        "",
    ])
    path = folder / "report.md"
    path.write_text(text)
    return path


def model_comparison(folder: str | Path, device: DeviceSpec,
                     profile: EfficiencyProfile) -> pd.DataFrame:
    """Whole model steps: each replay file's un-instrumented step time vs our prediction."""
    import json

    from hwspecs.dtypes import DType
    from simulator.core.options import Options
    from simulator.core.precision import Precision
    from simulator.core.simulate import simulate
    from workloads import get_workload

    rows = []
    for path in sorted(Path(folder).glob("replay-*.json")):
        meta = json.loads(path.read_text())
        r, step = meta["replay"], meta["replay"]["step"]
        model = r["model"]
        in_repo = Path(__file__).resolve().parents[2] / model   # paths are repo-relative
        if model.endswith(".json") and in_repo.exists():
            model = str(in_repo)
        d = DType.parse(r["dtype"])
        w = get_workload(model, r["phase"], r["batch"], r["seq"], r["context"])
        try:
            predicted, note = simulate(w, device, Options(
                precision=Precision(d, d, d), profile=profile)).time_s, ""
        except ValueError as exc:   # e.g. a bf16 replay on a spec measured in fp32 only
            predicted, note = float("nan"), str(exc)
        rows.append({"model": r["model_name"], "phase": r["phase"], "batch": r["batch"],
                     "seq": r["seq"], "context": r["context"], "dtype": r["dtype"],
                     "measured_s": step["median_s"], "predicted_s": predicted,
                     "error_pct": (predicted - step["median_s"]) / step["median_s"] * 100,
                     "noise_pct": step["noise_riqr"] * 100, "note": note})
    return pd.DataFrame(rows)
