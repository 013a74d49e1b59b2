"""The argument groups the commands share (model, shape, system and plan, precision, pricing,
output) and the request they build: each flag is declared once, here."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from archsim_cli.defaults import DEFAULT_DTYPE, DEFAULT_MODEL, DEFAULT_SEQ


def csv_of(kind):
    """A comma-separated list argument: '1,2,4' -> (1, 2, 4); an empty list is refused."""
    def parse(text: str) -> tuple:
        values = tuple(kind(x.strip()) for x in text.split(",") if x.strip())
        if not values:
            raise argparse.ArgumentTypeError(f"needs at least one value (e.g. 1,2,4), not "
                                             f"{text!r}")
        return values
    parse.__name__ = "list"
    return parse


def whole(low: int = 1):
    """An argparse type: a whole number of at least `low` (`--gpus -8` is refused here)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    parse.__name__ = "whole number"
    return parse


def positive(text: str) -> float:
    """An argparse type: a finite number above 0 (`--tokens=-1e12` is refused here)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, not {text}")
    return value


def add_model(p: argparse.ArgumentParser, required: bool = False) -> None:
    kw = {"required": True} if required else {"default": DEFAULT_MODEL}
    p.add_argument("--model", **kw,
                   help="catalog name (see `archsim models`), config.json path or Hub id"
                        + ("" if required else f" (default {DEFAULT_MODEL})"))


def add_step(p: argparse.ArgumentParser) -> None:
    """One step of a model: phase, batch and lengths."""
    p.add_argument("--phase", choices=["prefill", "decode", "train"], default="prefill")
    p.add_argument("--batch", type=whole(), default=1, help="sequences per step")
    p.add_argument("--seq", type=whole(), default=DEFAULT_SEQ,
                   help="prompt or training sequence length; decode: the default --context")
    p.add_argument("--context", type=whole(0), default=None,
                   help="decode: KV-cache length before the step (default: --seq)")


def add_system(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--system", default=default,
                   help="shipped system or device, e.g. dgx-h100, 'dgx-h100:nodes=8', "
                        f"h100-sxm (default {default})")


def add_gpus(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--gpus", type=whole(), default=None,
                   help=f"GPUs (default: {what}; with --search, the system's)")


def add_plan(p: argparse.ArgumentParser, training: bool) -> None:
    """The parallel plan's degrees (training adds CP, virtual stages, ZeRO, micro-batches)."""
    names = ("tp", "pp", "cp", "ep", "vp") if training else ("tp", "pp", "ep")
    for name in names:
        p.add_argument(f"--{name}", type=whole(), default=1)
    p.add_argument("--dp", type=whole(), default=None if training else 1,
                   help="data-parallel replicas" + (" (default: what fills --gpus)"
                                                    if training else ""))
    p.add_argument("--imbalance", type=float, default=1.0,
                   help="MoE load imbalance: busiest expert rank's tokens over the mean")
    add_pp_layers(p)
    if not training:
        add_attn_dp(p)


def add_pp_layers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pp-layers", type=csv_of(whole()), default=None, metavar="N,N,...",
                   help="layers of each pipeline stage, first to last (sets --pp; default: "
                        "as even as possible, the first and last stages shorter)")


def add_attn_dp(p: argparse.ArgumentParser, csv: bool = False) -> None:
    p.add_argument("--attn-dp", type=csv_of(int) if csv else whole(), default=(1,) if csv else 1,
                   help="attention data-parallel groups of --tp GPUs in one replica, sharing "
                        "the MoE experts by expert parallelism (--ep)"
                        + (", e.g. 1,8" if csv else ""))


def pipeline_of(args: argparse.Namespace) -> tuple[int, tuple[int, ...] | None]:
    """(pp, layers per stage): --pp-layers sets the stage count when --pp is left at 1."""
    layers = vars(args).get("pp_layers")
    pp = args.pp
    if layers is not None and pp == 1:
        pp = len(layers)
    return pp, (tuple(layers) if layers is not None else None)


def add_precision(p: argparse.ArgumentParser, weights: bool = True, kv: bool = True,
                  sparse: bool = False) -> None:
    p.add_argument("--dtype", default=DEFAULT_DTYPE,
                   help="compute precision of weights and activations: bf16, fp16, fp8, fp32, "
                        "nvfp4, mxfp8 (block-scaled, where the device has the peak), or a named "
                        "precision: w4a16 (int4 weights, bf16 compute), w4a8 (int4 weights, fp8 "
                        "compute)")
    if weights:
        p.add_argument("--weights-dtype", default=None,
                       help="override the weights alone (e.g. int4: W4A16; nvfp4, mxfp4, "
                            "mxfp8: block-scaled, scales counted)")
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
    p.add_argument("--top", type=whole(), default=10, help="plans to show with --search")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help="print machine-readable JSON (SI units, keys named with the unit)")


def check_gpus(gpus: int | None, degrees: dict[str, int | None]) -> None:
    """`--gpus` and every degree given must agree: `--gpus 8 --tp 2 --dp 3` is 6 GPUs, not 8."""
    given = {k: v for k, v in degrees.items() if v is not None}
    if gpus is None or len(given) < len(degrees):
        return
    product = 1
    for v in given.values():
        product *= v
    if product != gpus:
        from hwspecs.errors import InputError

        names = " x ".join(given)
        values = " x ".join(str(v) for v in given.values())
        raise InputError(f"--gpus {gpus} does not match {names} = {values} = {product} GPUs; "
                         "give --gpus or the degrees so that they agree")


def check_plan_first(model: str, plan, num_devices: int, seq: int, training: bool) -> None:
    """Refuse a plan the config alone shows impossible (heads, layers, experts), before the
    seconds a trace takes; the full check runs again on the traced model."""
    from simulator import check_plan
    from workloads import load_config
    from workloads.config_check import shape_of
    from workloads.op import ModelFacts

    cfg = load_config(model)
    shape = shape_of(cfg.data)
    if shape is None:
        return
    facts = ModelFacts(name=cfg.name, architecture=cfg.model_type, params=0, active_params=0,
                       layers=shape["layers"], hidden_size=0, heads=shape["heads"],
                       kv_heads=shape["kv_heads"], head_dim=0, vocab_size=0,
                       experts=shape["experts"])
    check_plan(plan, facts, num_devices, seq, training=training)


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
