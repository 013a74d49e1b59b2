"""The argument groups the commands share (model, shape, system and plan, precision, pricing,
output) and the request they build: each flag is declared once, here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from archsim_cli.defaults import DEFAULT_DTYPE, DEFAULT_MODEL, DEFAULT_SEQ


def csv_of(kind):
    """A comma-separated list argument: '1,2,4' -> (1, 2, 4)."""
    return lambda text: tuple(kind(x.strip()) for x in text.split(",") if x.strip())


def add_model(p: argparse.ArgumentParser, required: bool = False) -> None:
    kw = {"required": True} if required else {"default": DEFAULT_MODEL}
    p.add_argument("--model", **kw,
                   help="catalog name (see `archsim models`), config.json path or Hub id"
                        + ("" if required else f" (default {DEFAULT_MODEL})"))


def add_step(p: argparse.ArgumentParser) -> None:
    """One step of a model: phase, batch and lengths."""
    p.add_argument("--phase", choices=["prefill", "decode", "train"], default="prefill")
    p.add_argument("--batch", type=int, default=1, help="sequences per step")
    p.add_argument("--seq", type=int, default=DEFAULT_SEQ,
                   help="prompt or training sequence length; decode: the default --context")
    p.add_argument("--context", type=int, default=None,
                   help="decode: KV-cache length before the step (default: --seq)")


def add_system(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--system", default=default,
                   help="shipped system or device, e.g. dgx-h100, 'dgx-h100:nodes=8', "
                        f"h100-sxm (default {default})")


def add_gpus(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--gpus", type=int, default=None,
                   help=f"GPUs (default: {what}; with --search, the system's)")


def add_plan(p: argparse.ArgumentParser, training: bool) -> None:
    """The parallel plan's degrees (training adds CP, virtual stages, ZeRO, micro-batches)."""
    names = ("tp", "pp", "cp", "ep", "vp") if training else ("tp", "pp", "ep")
    for name in names:
        p.add_argument(f"--{name}", type=int, default=1)
    p.add_argument("--dp", type=int, default=None if training else 1,
                   help="data-parallel replicas" + (" (default: what fills --gpus)"
                                                    if training else ""))
    p.add_argument("--imbalance", type=float, default=1.0,
                   help="MoE load imbalance: busiest expert rank's tokens over the mean")


def add_precision(p: argparse.ArgumentParser, weights: bool = True, kv: bool = True,
                  sparse: bool = False) -> None:
    p.add_argument("--dtype", default=DEFAULT_DTYPE,
                   help="compute precision of weights and activations: bf16, fp16, fp8, fp32")
    if weights:
        p.add_argument("--weights-dtype", default=None,
                       help="override the weights alone (e.g. int4: W4A16)")
    if kv:
        p.add_argument("--kv-dtype", default=None, help="override the KV cache alone (e.g. fp8)")
    if sparse:
        p.add_argument("--sparse", action="store_true", help="2:4 structured sparsity of weights")


def add_pricing(p: argparse.ArgumentParser, ideal: bool = True) -> None:
    """How kernels are priced (which fitted profile, or the speed of light) and dollars."""
    from simulator import ENGINES

    p.add_argument("--pricing", choices=["rent", "tco"], default="rent",
                   help="dollars from the spec's cloud rent, or as total cost of ownership")
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="whose measured kernels the device's fitted profile comes from "
                        "(default trtllm where fitted)")
    p.add_argument("--profile", default=None, metavar="YAML",
                   help="price with this efficiency profile instead of the device's own")
    if ideal:
        p.add_argument("--ideal", action="store_true",
                       help="speed of light: efficiencies 1, no per-kernel overhead")


def add_search(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--search", action="store_true", help=f"rank every feasible plan ({what})")
    p.add_argument("--objective", choices=["throughput", "cost"], default="throughput")
    p.add_argument("--top", type=int, default=10, help="plans to show with --search")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print machine-readable JSON (SI units, keys named with the unit)")


@dataclass(frozen=True)
class Request:
    """What the arguments ask to price: the model and how (`simulator.Options`)."""

    model: str
    options: object       # simulator.Options


def request_of(args: argparse.Namespace) -> Request:
    """The one object a command builds from its arguments (flags it lacks take defaults)."""
    from simulator import CostOptions, Options, Precision, Recompute

    get = vars(args).get
    precision = Precision.parse(get("dtype") or DEFAULT_DTYPE, weights=get("weights_dtype"),
                                kv=get("kv_dtype"), sparse=bool(get("sparse")))
    tp_plan = None
    if get("model") is not None:
        from workloads.config import tp_plan_of

        tp_plan = tp_plan_of(args.model)
    profile = None
    if get("profile"):
        from simulator import load_profile

        profile = load_profile(args.profile)
    options = Options(precision=precision, ideal=bool(get("ideal")), profile=profile,
                      cost=CostOptions(pricing=get("pricing") or "rent"),
                      recompute=Recompute.parse(get("recompute") or "none"), tp_plan=tp_plan,
                      engine=get("engine"))
    return Request(model=get("model"), options=options)
