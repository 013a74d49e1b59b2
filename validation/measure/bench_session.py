"""One measuring session on one device: threads pinned, caches flushed, every case timed alike.

`Session` fixes torch's thread count for its duration (and restores it), sizes the buffer
rotation from the device's last-level cache, watches the host's load, times kernel cases and
whole-model steps with the same timer, and writes the metadata every measurement file carries.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from validation.measure.bench_shapes import Case
from validation.measure.fingerprint import device_slug, library_versions, usable_cpus
from validation.measure.host_load import HostLoad
from validation.measure.kernel_work import work_of

# NB: where the last-level cache size cannot be read, 64 MB of buffers count as leaving it.
FALLBACK_CACHE_BYTES = 32 * 2**20
MAX_SETS = 512
# Share of device memory one case's buffers may take (the rest stays for torch and the OS).
MEMORY_SHARE = {"cpu": 0.25, "cuda": 0.4}
FALLBACK_MEMORY_BYTES = 8e9


def buffer_sets(read_bytes: float, write_bytes: float, flush_bytes: float,
                cap_bytes: float) -> int:
    """How many input sets to rotate so that a call's inputs are out of cache, within memory."""
    wanted = min(MAX_SETS, max(2, math.ceil(flush_bytes / max(read_bytes, 1.0))))
    fits = int(cap_bytes // max(read_bytes + write_bytes, 1.0))
    return max(1, min(wanted, fits))


class Session:
    """Use as `with Session(device, fingerprint, quick) as s:`; then `s.measure(cases)`."""

    def __init__(self, device: str, fingerprint: dict[str, Any], quick: bool) -> None:
        from validation.measure.timing import CPU_PLAN, CUDA_PLAN, QUICK_PLAN, Clock

        self.device, self.fingerprint, self.quick = device, fingerprint, quick
        self.plan = QUICK_PLAN if quick else CPU_PLAN if device == "cpu" else CUDA_PLAN
        self.flush = 2.0 * (fingerprint.get("last_level_cache_bytes") or FALLBACK_CACHE_BYTES)
        self.cap = MEMORY_SHARE[device] * (fingerprint.get("memory_bytes")
                                           or FALLBACK_MEMORY_BYTES)
        self.clock = Clock(device)
        self.skipped: list[dict[str, str]] = []

    def __enter__(self) -> Session:
        import torch

        from validation.measure.cpu_allocator import ReusedPages

        self._threads = torch.get_num_threads()
        torch.set_num_threads(usable_cpus())
        self._pages = ReusedPages().__enter__() if self.device == "cpu" else None
        self.host = HostLoad(usable_cpus())
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        torch.set_num_threads(self._threads)
        if self._pages is not None:
            self._pages.__exit__(*exc)

    def time_fn(self, fn):
        """Timing of `fn(i)` with this session's plan and clock."""
        from validation.measure.timing import time_kernel

        return time_kernel(fn, self.clock, self.plan)

    def measure_case(self, case: Case) -> dict[str, Any]:
        """One record: the case's shape, work, and timing."""
        from validation.measure.bench_kernels import make_kernel
        from validation.measure.eager_chain import count_chain

        work = work_of(case)
        sets = buffer_sets(work.read_bytes, work.write_bytes, self.flush, self.cap)
        kernel = make_kernel(case, self.device, sets)
        chain = count_chain(kernel.fn, self.flush / 2)
        read, write, launches, impl = work.read_bytes, work.write_bytes, \
            kernel.launches or work.launches, kernel.impl
        if chain.launches > 1:   # an eager chain: the clock sees every pass it makes
            read, write, launches = chain.read_bytes, chain.write_bytes, chain.launches
            impl = f"{impl} (eager: {'+'.join(chain.kernels)})"
        timing = self.time_fn(kernel.fn)
        return {"kernel": case.kernel, "op": case.op, "impl": impl, "dtype": case.dtype,
                **case.shape(), "flops": work.flops, "read_bytes": read,
                "write_bytes": write, "launches": launches,
                "median_s": timing.median_s, "p10_s": timing.p10_s,
                "p25_s": timing.p25_s, "p75_s": timing.p75_s, "p90_s": timing.p90_s,
                "repeats": timing.repeats, "inner": timing.inner, "noise_riqr": timing.noise}

    def measure(self, cases: list[Case], budget_s: float | None = None, progress: bool = True,
                counts: dict[Case, int] | None = None) -> list[dict[str, Any]]:
        """Records of `cases` (with `counts[case]` as each record's count, if given); past the
        budget or out of memory, a case is skipped and noted."""
        import torch
        from tqdm import tqdm

        rows = []
        bar = tqdm(cases, desc=f"archsim bench {self.device}", unit="kernel", file=sys.stderr,
                   disable=not progress)
        for case in bar:
            bar.set_postfix_str(case.op)
            if budget_s is not None and time.perf_counter() - self.start > budget_s:
                self.skipped.append({"case": case.label(), "reason": "time budget spent"})
                continue
            try:
                rows.append({**self.measure_case(case),
                             "count": None if counts is None else counts[case]})
            except torch.OutOfMemoryError:
                self.skipped.append({"case": case.label(), "reason": "out of memory"})
            finally:
                if self.device == "cuda":
                    torch.cuda.empty_cache()
        return rows

    def meta(self, frame: pd.DataFrame) -> dict[str, Any]:
        """What every measurement file records beside its table."""
        import torch

        now = datetime.now(UTC)
        return {"slug": device_slug(self.fingerprint), "date": now.strftime("%Y-%m-%d"),
                "created_utc": now.isoformat(timespec="seconds"),
                "grid": "quick" if self.quick else "full", "device": self.fingerprint,
                "versions": library_versions(),
                "settings": {"torch_threads": usable_cpus(),
                             "float32_matmul_precision": torch.get_float32_matmul_precision(),
                             "cuda_matmul_allow_tf32":
                                 bool(torch.backends.cuda.matmul.allow_tf32),
                             "cpu_allocator": self._pages.setting if self._pages else None},
                "timing_plan": asdict(self.plan), "flush_bytes": self.flush,
                "elapsed_s": round(time.perf_counter() - self.start, 1),
                "complete": not self.skipped, "skipped": self.skipped,
                "host_load": self.host.read(),
                "median_noise_riqr": float(frame["noise_riqr"].median()) if len(frame)
                else None}
