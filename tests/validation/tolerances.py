"""Asserted error tolerances of predictions vs measurements, kept in one place.

Set from the results, not tuned to them: the committed CPU data was measured on a shared 2-core
VM while other work ran (median relative IQR 8-14% per class, up to 50% on some kernels), so
the bounds are loose. Tighten them when cleaner data lands.
"""

# Held-out kernels of the committed CPU set, median absolute percentage error.
CPU_HELD_OUT_MEDIAN_APE_PCT = 40.0         # all classes together (observed ~25%)
CPU_HELD_OUT_GEMM_MEDIAN_APE_PCT = 30.0    # GEMMs (observed ~21%)
