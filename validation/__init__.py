"""Validation: measure the kernels the simulator prices on this machine, fit, and compare.

Importing this package is light (no torch): the benchmark imports torch inside the functions
that measure.

    bench.bench_to_folder(device, quick, out, emit_spec, ...)   the kernel grid -> records
    bench.replay_to_folder(model, phase, batch, seq, ...)       a traced model's kernels + step
    bench.emit_spec_from(path, ...)                              a device YAML from records
    records.read_measurements(path)                              a measurement file, checked
"""
