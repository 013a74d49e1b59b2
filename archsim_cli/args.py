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
    """Three separate axes: the compute format (--dtype), the weights' and the KV cache's."""
    p.add_argument("--dtype", default=DEFAULT_DTYPE, help=DTYPE_HELP)
    if weights:
        p.add_argument("--weights-dtype", default=None, help=WEIGHTS_HELP)
    if kv:
        p.add_argument("--kv-dtype", default=None, help=KV_HELP)
    if sparse:
        p.add_argument("--sparse", action="store_true", help="2:4 structured sparsity of weights")


DTYPE_HELP = ("compute format (weights too, unless --weights-dtype): bf16, fp16, fp8, fp32, "
              "nvfp4, mxfp8 (block-scaled, where the device has the peak), or a named "
              "precision: w4a16 (int4 weights, bf16 compute), w4a8 (int4 weights, fp8 compute)")
WEIGHTS_HELP = ("the weights' format alone (e.g. fp8 with --dtype bf16; int4: W4A16; nvfp4, "
                "mxfp4, mxfp8: block-scaled, scales counted)")
KV_HELP = ("the KV cache's format alone (e.g. fp8); default: the compute format if 16 bits or "
           "wider, else bf16 (--dtype fp8 keeps a bf16 KV cache, as vLLM's auto does)")


def add_precision_axes(p: argparse.ArgumentParser) -> None:
    """The three precision axes as lists, for commands that try every combination."""
    p.add_argument("--dtype", type=csv_of(str), default=(DEFAULT_DTYPE,), metavar="D,D,...",
                   help="compute formats to try, e.g. bf16,fp8; " + DTYPE_HELP)
    p.add_argument("--weights-dtype", type=csv_of(str), default=None, metavar="D,D,...",
                   help="weight formats to try with each (default: the compute format); "
                        + WEIGHTS_HELP)
    p.add_argument("--kv-dtype", type=csv_of(str), default=None, metavar="D,D,...",
                   help="KV-cache formats to try with each; " + KV_HELP)


def precision_specs(args: argparse.Namespace) -> tuple[str, ...]:
    """Every combination of the precision axes, as `simulator.Precision` texts
    ('fp8', 'fp8/kv=fp8', 'bf16/w=int4'); a bad format is refused naming it."""
    from simulator import Precision

    get = vars(args).get
    return Precision.combinations(get("dtype") or (DEFAULT_DTYPE,), get("weights_dtype"),
                                  get("kv_dtype"))


def add_pricing(p: argparse.ArgumentParser, ideal: bool = True) -> None:
    """How kernels are priced (which fitted profile, or the speed of light) and dollars."""
    from simulator import ENGINES, CostOptions

    tco = CostOptions()
    p.add_argument("--pricing", choices=["rent", "tco"], default="rent",
                   help="dollars from a cloud rent (the spec's, or --usd-per-gpu-hour), or as "
                        "total cost of ownership (purchase amortized, plus energy)")
    p.add_argument("--usd-per-gpu-hour", type=prices, default=None, metavar="USD|DEV=USD,...",
                   help="rent per GPU-hour, replacing the spec's: one price for every device "
                        "(2.5) or per device (h100-sxm=2.2,mi300x=1.5; a bare number covers "
                        "the rest); the specs' rents are on-demand list prices, see `archsim "
                        "specs show DEVICE`")
    g = p.add_argument_group("total cost of ownership (--pricing tco)")
    g.add_argument("--purchase-usd", type=prices, default=None, metavar="USD|DEV=USD,...",
                   help="purchase price per GPU, replacing the spec's (as --usd-per-gpu-hour)")
    g.add_argument("--tco-years", type=positive, default=None,
                   help=f"years the purchase is amortized over (default {tco.years:g})")
    g.add_argument("--tco-utilization", type=fraction, default=None,
                   help="share of hours the hardware does paid work (default "
                        f"{tco.utilization:g})")
    g.add_argument("--usd-per-kwh", type=positive, default=None,
                   help=f"electricity price (default {tco.usd_per_kwh:g})")
    g.add_argument("--pue", type=positive, default=None,
                   help=f"facility power over IT power, at least 1 (default {tco.pue:g})")
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="whose measured kernels the device's fitted profile comes from "
                        "(default trtllm where fitted)")
    p.add_argument("--profile", default=None, metavar="YAML",
                   help="price with this efficiency profile instead of the device's own")
    if ideal:
        p.add_argument("--ideal", action="store_true",
                       help="speed of light: efficiencies 1, no per-kernel overhead")


def fraction(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = positive(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share in (0, 1], not {text}")
    return value


def prices(text: str) -> tuple[tuple[str, float], ...]:
    """'2.5' (every device) or 'h100-sxm=2.2,mi300x=1.5' (per device; systems name their
    device): pairs of device name ('' for every device) and dollars."""
    from hwspecs.registry import device_names, load_system

    out = []
    for item in (x.strip() for x in text.split(",")):
        if not item:
            continue
        name, sep, usd = item.rpartition("=")
        name = name.strip().lower()
        if sep and not name:
            raise argparse.ArgumentTypeError(f"{item!r} names no device (DEVICE=USD)")
        if name and name not in device_names():
            try:
                name = load_system(name).device.name
            except (LookupError, ValueError):
                raise argparse.ArgumentTypeError(
                    f"{name!r} is not a shipped device or system (see `archsim specs "
                    "list`)") from None
        out.append((name, positive(usd)))
    if not out:
        raise argparse.ArgumentTypeError(f"needs a price (e.g. 2.5 or h100-sxm=2.2), not "
                                         f"{text!r}")
    return tuple(out)


prices.__name__ = "price"


def cost_options_of(args: argparse.Namespace):
    """`simulator.CostOptions` from the pricing flags (flags a command lacks take defaults)."""
    from simulator import CostOptions

    get = vars(args).get
    tco = {k: v for k, v in (("years", get("tco_years")),
                             ("utilization", get("tco_utilization")),
                             ("usd_per_kwh", get("usd_per_kwh")), ("pue", get("pue")))
           if v is not None}
    try:
        return CostOptions(pricing=get("pricing") or "rent",
                           usd_per_gpu_hour=get("usd_per_gpu_hour") or (),
                           purchase_usd_per_gpu=get("purchase_usd") or (), **tco)
    except ValueError as exc:
        from hwspecs.errors import InputError

        raise InputError(str(exc)) from None


def add_search(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--search", action="store_true", help=f"rank every feasible plan ({what})")
    p.add_argument("--objective", choices=["throughput", "cost"], default="throughput")
    p.add_argument("--top", type=whole(), default=10, help="plans to show with --search")


def add_kernels(p: argparse.ArgumentParser, default: str | None = "model",
                grid: bool = False) -> None:
    p.add_argument("--kernels", default=default, metavar="model|measured[:DIR]",
                   help="price kernels with the fitted model, or from the measurements of the "
                        "device under the engine where they cover a kernel (DIR: imported "
                        "records; default the committed set), the model elsewhere"
                        + ("; default: the grid's 'kernels' key, else model" if grid else ""))


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
    from simulator import Options, Precision, Recompute

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
                      cost=cost_options_of(args),
                      recompute=Recompute.parse(get("recompute") or "none"), tp_plan=tp_plan,
                      engine=get("engine"))
    if get("kernels"):
        from dataclasses import replace

        from simulator import kernel_fields

        options = replace(options, **kernel_fields(args.kernels))
    return Request(model=get("model"), options=options)
