"""Lowering passes, used by `workloads.fuse`: per-op rewrites and kernel grouping."""
