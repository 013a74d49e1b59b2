"""What a finished sweep says: the best point per model and metric, and the cost/latency front.

Latency is a point's time per step and cost its dollars per 1M tokens over all the GPUs of
its plan, so a front compares one GPU with eight fairly.
"""

from __future__ import annotations

AXES = ["model", "phase", "batch", "seq", "context", "device", "plan", "precision", "variant",
        "kernels"]      # kernels: what priced the point (model, or measured where covered)
# (metric, "min" or "max"): what "best" means for it.
BEST = (("time_s", "min"), ("tokens_per_s", "max"), ("usd_per_1m_tokens", "min"),
        ("j_per_token", "min"))


def _valid(frame):
    return frame[(frame["error"] == "") & frame["feasible"]]


def axes_of(frame) -> list[str]:
    """The axes a results frame has (a sweep written before the plan axis has no `plan`, one
    written before the measured backend no `kernels`)."""
    return [a for a in AXES if a in frame.columns]


def best_points(frame):
    """One row per (model, metric): the feasible point that does best on that metric."""
    import pandas as pd

    rows = []
    ok = _valid(frame)
    axes = axes_of(frame)[1:]
    for model, group in ok.groupby("model", sort=False):
        for metric, sense in BEST:
            values = group[metric].dropna()
            if values.empty:
                continue
            best = group.loc[values.idxmin() if sense == "min" else values.idxmax()]
            rows.append({"model": model, "metric": metric, "value": float(best[metric]),
                         **{a: best[a] for a in axes}})
    return pd.DataFrame(rows, columns=["model", "metric", "value", *axes])


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
    columns = [*axes_of(frame), latency, cost]
    if not fronts:
        return frame.iloc[0:0][columns]
    return pd.concat(fronts)[columns].reset_index(drop=True)
