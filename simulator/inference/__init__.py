"""Inference at scale: TTFT, TPOT and throughput of a request batch on a plan."""
