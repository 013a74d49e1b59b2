"""Request arrivals: Poisson at a rate, bursty (gamma inter-arrival times with a coefficient of
variation), or a trace file (CSV: arrival time in seconds, input tokens, output tokens)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRACE_FIELDS = ("arrival_s", "input_len", "output_len")

# The most requests one simulation draws: about 100 s and 0.2 GB at the ~10,000 simulated
# requests/s measured on a 2-core machine (benchmarks/bench_serving.py).
MAX_REQUESTS = 1_000_000
SIMULATED_REQUESTS_PER_S = 10_000


@dataclass(frozen=True)
class Requests:
    """Requests sorted by arrival."""

    arrival_s: np.ndarray
    input_len: np.ndarray
    output_len: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)


def check_rate(rate_per_s: float) -> None:
    if not rate_per_s > 0 or not np.isfinite(rate_per_s):
        raise ValueError(f"request rate must be a positive number of requests per second, "
                         f"not {rate_per_s}")


def arrival_times(rate_per_s: float, duration_s: float, rng: np.random.Generator,
                  cv: float = 1.0) -> np.ndarray:
    """Arrival times in [0, duration_s): gamma inter-arrivals of mean 1/rate and coefficient of
    variation `cv` (cv = 1 is Poisson; > 1 is bursty)."""
    check_rate(rate_per_s)
    if not (duration_s > 0 and np.isfinite(duration_s)):
        raise ValueError(f"duration must be a finite number of seconds > 0, not {duration_s}")
    if not (cv > 0 and np.isfinite(cv)):
        raise ValueError(f"coefficient of variation must be a finite number > 0, not {cv}")
    shape = 1.0 / cv ** 2
    expected = rate_per_s * duration_s
    check_work(expected, f"{rate_per_s:g} requests/s for {duration_s:g} s")
    n = int(expected + 6 * np.sqrt(expected * max(cv, 1.0) ** 2) + 16)
    gaps = rng.gamma(shape, 1.0 / (rate_per_s * shape), size=n)
    times = np.cumsum(gaps) - gaps[0]      # the first request arrives at 0
    while times[-1] < duration_s:          # rare: draw more
        more = rng.gamma(shape, 1.0 / (rate_per_s * shape), size=n)
        times = np.concatenate([times, times[-1] + np.cumsum(more)])
    return times[times < duration_s]


def check_work(requests: float, what: str) -> None:
    """Refuse, with the estimate, a simulation of more than MAX_REQUESTS requests."""
    if requests <= MAX_REQUESTS:
        return
    minutes = requests / SIMULATED_REQUESTS_PER_S / 60
    raise ValueError(f"{what} is about {requests:.3g} requests, some {minutes:,.0f} minutes "
                     f"and {requests * 200 / 1e9:,.1f} GB to simulate; the limit is "
                     f"{MAX_REQUESTS:,} requests: lower the rate or the duration")


def read_trace(path: str | Path) -> Requests:
    """Read a CSV trace with a header naming arrival_s, input_len, output_len."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"trace file {path} does not exist")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or [c.strip() for c in rows[0]][:3] != list(TRACE_FIELDS):
        raise ValueError(f"trace {path} line 1: the header must be "
                         f"{','.join(TRACE_FIELDS)}")
    cols: list[list[float]] = [[], [], []]
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 3:
            raise ValueError(f"trace {path} line {line}: expected 3 fields, found {len(row)}")
        for i, name in enumerate(TRACE_FIELDS):
            cols[i].append(_field(path, line, name, row[i], integer=i > 0))
    if not cols[0]:
        raise ValueError(f"trace {path} holds no requests")
    t = np.array(cols[0])
    order = np.argsort(t, kind="stable")
    return Requests(t[order] - 0.0, np.array(cols[1], dtype=np.int64)[order],
                    np.array(cols[2], dtype=np.int64)[order])


def _field(path: Path, line: int, name: str, text: str, integer: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"trace {path} line {line}: field {name} is {text!r}, not a "
                         "number") from None
    if not np.isfinite(value) or value < 0 or (integer and (value < 1 or value != int(value))):
        want = "a whole number of tokens >= 1" if integer else "a time >= 0 s"
        raise ValueError(f"trace {path} line {line}: field {name} is {text!r}; it must be "
                         f"{want}")
    return value
