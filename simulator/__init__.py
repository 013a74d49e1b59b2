"""The cost model: price a lowered workload on hardware. Never imports torch or transformers."""
