"""Lowering: raw aten ops to the kernels a GPU stack runs, as a Workload."""
