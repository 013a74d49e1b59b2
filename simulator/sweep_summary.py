"""What a finished sweep says: the best point per model and metric, and the cost/latency front."""

from __future__ import annotations

AXES = ["model", "phase", "batch", "seq", "context", "device", "precision", "variant"]
# (metric, "min" or "max"): what "best" means for it.
BEST = (("time_s", "min"), ("tokens_per_s", "max"), ("usd_per_1m_tokens", "min"),
        ("j_per_token", "min"))


def _valid(frame):
    return frame[(frame["error"] == "") & frame["feasible"]]


def best_points(frame):
    """One row per (model, metric): the feasible point that does best on that metric."""
    import pandas as pd

    rows = []
    ok = _valid(frame)
    for model, group in ok.groupby("model", sort=False):
        for metric, sense in BEST:
            values = group[metric].dropna()
            if values.empty:
                continue
            best = group.loc[values.idxmin() if sense == "min" else values.idxmax()]
            rows.append({"model": model, "metric": metric, "value": float(best[metric]),
                         **{a: best[a] for a in AXES[1:]}})
    return pd.DataFrame(rows, columns=["model", "metric", "value", *AXES[1:]])


def pareto_front(frame, cost: str = "usd_per_1m_tokens", latency: str = "time_s"):
    """Per (model, phase): the feasible points no other point beats on both cost and latency,
    fastest first."""
    import pandas as pd

    ok = _valid(frame).dropna(subset=[cost, latency])
    fronts = []
    for _, group in ok.groupby(["model", "phase"], sort=False):
        ranked = group.sort_values([latency, cost], kind="stable")
        cheapest_before = ranked[cost].cummin().shift(1, fill_value=float("inf"))
        fronts.append(ranked[ranked[cost] < cheapest_before])
    if not fronts:
        return frame.iloc[0:0][[*AXES, latency, cost]]
    return pd.concat(fronts)[[*AXES, latency, cost]].reset_index(drop=True)
