"""How much of a serving run the measured tables price (`measured_share`, as `infer` reports
it for a request batch).

A run's iterations are buckets of prompt chunks and decodes (`iteration_cost`); the share is
taken over the request batch that stands for the run: `batch` running sequences (the mean
the run held, per replica) of the mean prompt and output lengths of the requests it
completed, prefilled once and decoded to the end (`inference.request_measured_share`).
NB: an engine chunks prompts and mixes them with decodes; the representative batch prices
the same kernels at the run's mean shapes, so the share is the run's to within that.
"""

from __future__ import annotations

import numpy as np

from hwspecs.dtypes import DType
from simulator.inference.kernel_check import request_measured_share
from simulator.inference.request import InferenceWorkloads, decode_context
from simulator.serving.replica import ReplicaSpec
from simulator.serving.simulation import ServingResult


def serving_measured_share(spec: ReplicaSpec, input_lens, output_lens, batch: float) -> dict:
    """`measured_share` of a replica serving requests of these lengths, `batch` at a time."""
    from workloads import get_workload

    lens_in, lens_out = np.asarray(input_lens, float), np.asarray(output_lens, float)
    if lens_in.size == 0:
        raise ValueError("no completed request to take a measured share over")
    prompt = max(int(round(float(lens_in.mean()))), 1)
    out = max(int(round(float(lens_out.mean()))), 1)
    b = max(int(round(batch)), 1)
    prefill = get_workload(spec.model, "prefill", batch=b, seq=prompt, dtype=DType.BF16)
    decode = get_workload(spec.model, "decode", batch=b, seq=1,
                          context=decode_context(prompt, out), dtype=DType.BF16)
    ws = InferenceWorkloads(prefill, decode, decode, out)
    return request_measured_share(ws, spec.system, spec.plan, spec.options)


def open_loop_measured_share(result: ServingResult, max_seqs: int) -> dict:
    """`serving_measured_share` of an open-loop run: its completed requests, the mean number
    in the system per replica (at most the scheduler's `max_seqs`) running at once."""
    done = result.completed
    batch = min(result.mean_in_system() / result.replicas, max_seqs)
    return serving_measured_share(result.spec, result.state.prompt[done],
                                  result.state.out[done], batch)
