"""Collective communication over a system's link levels (alpha-beta)."""
