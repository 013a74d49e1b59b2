"""The measurement runs whose data ships in `validation/data/`: the kernel grid, the device
spec, and model replays, for a CPU (`run_cpu.sh`) or one GPU (`run_h200.sh`).
"""

from __future__ import annotations

import time
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "replay_models"
LLAMA, MOE = str(MODELS / "llama-4l.json"), str(MODELS / "moe-4l.json")

# (model, phase, batch, seq, context) per device: prefill, decode and training steps of a
# dense decoder, an encoder, a Llama-shaped decoder and a small MoE.
REPLAYS = {
    "cpu": (("gpt2", "prefill", 1, 128, 0), ("bert-base", "prefill", 1, 128, 0),
            (LLAMA, "prefill", 1, 128, 0), (LLAMA, "decode", 4, 1, 512),
            (LLAMA, "train", 1, 128, 0), (MOE, "prefill", 1, 128, 0),
            (MOE, "decode", 4, 1, 256)),
    "cuda": (("gpt2", "prefill", 8, 1024, 0), ("bert-base", "prefill", 8, 512, 0),
             (LLAMA, "prefill", 4, 2048, 0), (LLAMA, "decode", 32, 1, 2048),
             (LLAMA, "train", 4, 1024, 0), (MOE, "prefill", 4, 1024, 0),
             (MOE, "decode", 32, 1, 1024)),
}
# Where nvidia-smi reads no power limit, an H200's spec takes its datasheet TDP.
H200_TDP = (700.0, "NVIDIA H200 Tensor Core GPU datasheet, H200 SXM column: max TDP up to "
                   "700 W (configurable)")


def _say(text: str) -> None:
    print(text, flush=True)


def _spec(outcome, tdp_w: float | None, tdp_source: str | None) -> None:
    from validation.measure.bench import emit_spec_from

    fp = outcome.meta["device"]
    if tdp_w is None and not fp.get("power_limit_w") and "H200" in fp["name"]:
        tdp_w, tdp_source = H200_TDP
    try:
        _say(f"spec: {emit_spec_from(outcome.csv_path, None, tdp_w, tdp_source)}")
    except ValueError as exc:
        _say(f"spec not written: {exc}")


def run_all(device: str, out: str | None, budget_s: float | None, tdp_w: float | None,
            tdp_source: str | None, quick: bool = False) -> int:
    """The grid, the spec and every replay of `device`; returns how many steps failed.
    `quick` runs the quick grid and short timings (a smoke test of the whole run)."""
    from validation.measure.bench import bench_to_folder, replay_to_folder
    from validation.measure.host_load import busy_warning

    start = time.perf_counter()
    outcome = bench_to_folder(device, quick, out, budget_s=budget_s, progress=False)
    meta = outcome.meta
    _say(f"records: {outcome.csv_path} ({meta['elapsed_s']} s, complete: {meta['complete']}, "
         f"skipped: {len(meta['skipped'])})")
    for row in outcome.summary:
        _say(f"{row['kernel']:>13}: {row['cases']:3d} cases, best "
             f"{row['best_flops_per_s'] / 1e12:9.3f} TFLOP/s, "
             f"{row['best_bytes_per_s'] / 1e12:7.3f} TB/s, fastest "
             f"{row['fastest_s'] * 1e6:8.1f} us, noise {row['median_noise_riqr']:.1%}")
    _say(f"warning: {busy_warning(meta)}" if busy_warning(meta) else "host was quiet")
    _spec(outcome, tdp_w, tdp_source)
    failed = 0
    for model, phase, batch, seq, context in REPLAYS[device]:
        name = f"{Path(model).stem} {phase} b{batch} s{seq} c{context}"
        if budget_s is not None and time.perf_counter() - start > budget_s:
            _say(f"replay {name}: skipped, time budget spent")
            continue
        try:
            r = replay_to_folder(model, phase, batch, seq, context, device, quick=quick,
                                 out=out, progress=False)
        except Exception as exc:  # NB: one replay failing (say, an older transformers on
            failed += 1           # the device machine) must not lose the others' data.
            _say(f"replay {name}: failed: {str(exc).splitlines()[0]}")
            continue
        rp = r.meta["replay"]
        _say(f"replay {name}: {rp['replayed_kernels']}/{rp['kernels']} kernels, sum "
             f"{rp['replayed_sum_s'] * 1e3:.3f} ms, step {rp['step']['median_s'] * 1e3:.3f} ms")
    return failed
