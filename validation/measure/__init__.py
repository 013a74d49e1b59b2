"""Measuring kernels on this machine: grids, timing, fingerprints, records."""
