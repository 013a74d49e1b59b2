"""Design-space sweeps: grids, vectorized points, Parquet results, Dask."""
