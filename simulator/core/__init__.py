"""The single-device cost model: kernel arrays, pricing, efficiency, memory, cost, reports."""
