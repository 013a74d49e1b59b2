"""Parallel plans and how they shard a workload: TP/SP/PP/DP/ZeRO/CP/EP."""
