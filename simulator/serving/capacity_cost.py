"""What a capacity option costs at the planned traffic, and when it is an outlier.

Prices come from `simulator.core.cost.cost_columns` over one hour of the traffic on all the
option's GPUs: dollars per hour, per million input, output and blended (input + output) tokens
(each the whole hour's cost over that many tokens, as a provider's single-kind price would be),
per request, and the power of one replica. NB: the GPUs are taken busy all hour (power at full
load, as a capacity plan provisions it).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.cost import SECONDS_PER_HOUR, CostOptions, cost_columns
from simulator.serving.lengths import LengthDist

# An option is flagged as an outlier past either of these (a plan a planner would not buy).
OUTLIER_REPLICAS = 64
OUTLIER_COST_RATIO = 10.0            # x the cheapest option's $/hour


@dataclass(frozen=True)
class OptionCost:
    usd_per_hour: float | None
    usd_per_1m_input_tokens: float | None
    usd_per_1m_output_tokens: float | None
    usd_per_1m_tokens: float | None              # blended: input and output tokens together
    usd_per_request: float | None
    kw_per_replica: float | None


def mean_len(d: LengthDist) -> float:
    return (d.a + d.b) / 2 if d.kind == "uniform" else d.a


def option_cost(device, gpus_per_replica: int, replicas: int, qps: float,
                input_len: LengthDist, output_len: LengthDist, options: CostOptions
                ) -> OptionCost:
    per_hour = qps * SECONDS_PER_HOUR
    tokens_in, tokens_out = per_hour * mean_len(input_len), per_hour * mean_len(output_len)
    # Four "token" counts over the same hour: input, output, both, and requests (x 1e6 below).
    counts = [tokens_in, tokens_out, tokens_in + tokens_out, per_hour]
    cols = cost_columns(device, [SECONDS_PER_HOUR] * 4, [SECONDS_PER_HOUR] * 4, counts,
                        options, devices=gpus_per_replica * replicas)
    row = [cols.row(i) for i in range(4)]
    per_request = row[3].usd_per_1m_tokens
    return OptionCost(
        usd_per_hour=row[0].usd_per_hour, usd_per_1m_input_tokens=row[0].usd_per_1m_tokens,
        usd_per_1m_output_tokens=row[1].usd_per_1m_tokens,
        usd_per_1m_tokens=row[2].usd_per_1m_tokens,
        usd_per_request=None if per_request is None else per_request / 1e6,
        kw_per_replica=None if row[0].power_w is None else row[0].power_w / replicas / 1e3)


def outlier_reason(replicas: int, usd_per_hour: float | None,
                   cheapest_usd_per_hour: float | None) -> str:
    """Why an option is an outlier ('' when it is not)."""
    why = []
    if replicas > OUTLIER_REPLICAS:
        why.append(f"{replicas:,} replicas (more than {OUTLIER_REPLICAS})")
    if usd_per_hour is not None and cheapest_usd_per_hour \
            and usd_per_hour > OUTLIER_COST_RATIO * cheapest_usd_per_hour:
        why.append(f"${usd_per_hour:,.0f}/h, {usd_per_hour / cheapest_usd_per_hour:,.0f}x the "
                   f"cheapest (more than {OUTLIER_COST_RATIO:g}x)")
    return "; ".join(why)
