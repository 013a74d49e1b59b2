"""Asserted error tolerances of predictions vs measurements, kept in one place.

Set from the results, not tuned to them. The committed 2-core CPU set (2026-11-28, idle host,
freed pages reused, caches flushed) shows a median relative IQR of 7-15% per kernel class on
this VM, and held-out errors of: all classes 26%, GEMM 19%; whole-model steps median 12%,
worst 31% (BERT base). The bounds leave room for that noise.
"""

# Held-out kernels of the committed 2-core CPU set, median absolute percentage error.
CPU_HELD_OUT_MEDIAN_APE_PCT = 35.0         # all classes together (observed 26%)
CPU_HELD_OUT_GEMM_MEDIAN_APE_PCT = 30.0    # GEMMs (observed 19%)
# Whole-model steps (un-instrumented forward, decode and training steps) of the same set.
CPU_MODEL_STEP_MEDIAN_APE_PCT = 25.0       # median over the steps the spec can price (12%)
CPU_MODEL_STEP_WORST_APE_PCT = 50.0        # worst of them (31%)
