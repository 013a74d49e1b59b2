"""`archsim specs list|show|validate`: the shipped hardware and checks of spec files."""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("specs", help="list, show and validate hardware specs")
    specs = p.add_subparsers(dest="specs_command", metavar="ACTION", required=True)

    ls = specs.add_parser("list", help="list shipped devices and systems")
    add_json(ls)
    ls.set_defaults(run=_list)

    show = specs.add_parser("show", help="show one device or system with the source of "
                            "every number")
    show.add_argument("name", help="device or system name, a reference such as "
                      "'dgx-h100:nodes=4,nic_Gbps=800', or a YAML path")
    add_json(show)
    show.set_defaults(run=_show)

    val = specs.add_parser("validate", help="check spec YAML files strictly")
    val.add_argument("paths", nargs="+", help="YAML files or globs (hwspecs/**/*.yaml)")
    add_json(val)
    val.set_defaults(run=_validate)


def _tflops(d, dtype) -> str:
    v = d.matrix_peak_flops_per_s.get(dtype)
    return "-" if v is None else f"{v / 1e12:,.0f}"


def _list(args: argparse.Namespace) -> int:
    from hwspecs import DType, load_all_devices, load_system, system_names
    from hwspecs.export import device_to_dict, system_to_dict

    devices = load_all_devices()
    systems = [load_system(n) for n in system_names()]
    if args.json:
        print_json({"devices": [device_to_dict(d) for d in devices],
                    "systems": [system_to_dict(s) for s in systems]})
        return 0
    rows = [(d.name, d.display_name, _tflops(d, DType.BF16), _tflops(d, DType.FP8),
             _tflops(d, DType.FP4), f"{d.mem_capacity_bytes / 1e9:,.0f}",
             f"{d.mem_bw_bytes_per_s / 1e12:,.2f}", "-" if d.tdp_w is None else f"{d.tdp_w:,.0f}") for d in devices]
    print_table("Devices (dense peaks)", ["name", "device", "bf16 TFLOP/s", "fp8 TFLOP/s",
                                          "fp4 TFLOP/s", "memory GB", "TB/s", "TDP W"], rows,
                right_align_from=2)
    rows = [(s.name, s.display_name, s.device.name, s.num_devices,
             " / ".join(f"{lv.name} {lv.bw_bytes_per_s / 1e9:,.0f} GB/s x{lv.group_size}"
                        for lv in s.levels)) for s in systems]
    print_table("Systems", ["name", "system", "device", "devices", "links (per direction)"],
                rows, right_align_from=3)
    return 0


def _show(args: argparse.Namespace) -> int:
    from hwspecs import device_names, load_device, load_system
    from hwspecs.export import device_to_dict, system_to_dict

    name = args.name
    is_device = name.lower() in device_names() or (
        name.endswith((".yaml", ".yml")) and _kind_of(name) == "device")
    if is_device:
        d = load_device(name)
        if args.json:
            print_json(device_to_dict(d))
            return 0
        _print_device(d)
        return 0
    s = load_system(name)
    if args.json:
        print_json(system_to_dict(s))
        return 0
    rows = [(lv.name, lv.group_size, f"{lv.bw_bytes_per_s / 1e9:,.1f}",
             f"{lv.latency_s * 1e6:,.2f}", lv.topology, lv.in_network_reduction,
             lv.efficiency) for lv in s.levels]
    print_table(f"{s.display_name}: {s.num_devices} x {s.device.name} "
                f"({s.nodes} node(s) of {s.devices_per_node})",
                ["level", "group size", "GB/s per direction", "latency us", "topology",
                 "in-network reduction", "default efficiency"], rows)
    return 0


def _print_device(d) -> None:
    from hwspecs.load import read_yaml

    raw = read_yaml(d.path)
    rows = []
    for field, value in raw.items():
        if not isinstance(value, dict) or field in ("sources", "not_sourced"):
            continue
        for key, entry in value.items():
            if isinstance(entry, dict):
                value = entry.get("value")
                shown = f"{value:g}" if isinstance(value, int | float) else \
                    ("" if value is None else str(value))
                if "date" in entry:
                    at = f"{entry['provider']} list, " if "provider" in entry else ""
                    shown += f" ({at}{entry['date']})"
                if "note" in entry:
                    shown += ("; " if shown else "") + str(entry["note"])
                rows.append((f"{field}.{key}", shown, str(entry.get("source", ""))))
            else:
                rows.append((f"{field}.{key}", str(entry), ""))
    for path, why in d.not_sourced.items():
        rows.append((path, "left out: " + why, ""))
    print_table(f"{d.display_name} ({d.name}), YAML units", ["field", "value", "source"], rows,
                right_align_from=9)
    print_table("Sources", ["id", "citation"], raw["sources"].items(), right_align_from=9)
    from hwspecs.schema import RENT_BASIS

    print(f"Rents: {RENT_BASIS}. Any command that prices takes --usd-per-gpu-hour instead.")


def _kind_of(path: str) -> str:
    """device, system, profile, transfer widening or plan family errors, from what the file holds (a device when unreadable, so the
    loader reports the problem)."""
    from hwspecs.errors import SpecError
    from hwspecs.load import read_yaml

    try:
        raw = read_yaml(path)
    except SpecError:
        return "device"
    if "device" in raw:
        return "system"
    if "gemm_tile_m" in raw or "matrix_fraction" in raw:
        return "profile"
    if "median_abs_error" in raw:
        return "transfer"
    if "families" in raw:
        return "plan families"
    return "device"


def _validate_one(path: str) -> None:
    from hwspecs.registry import load_device, load_system
    from simulator import check_family_file, check_profile_file, check_widening_file

    if Path(path).is_dir():
        from hwspecs.errors import SpecError

        raise SpecError(path, "", "is a directory; give spec files or a glob such as "
                        f"'{path.rstrip('/')}/*.yaml'")
    kind = _kind_of(path) if Path(path).exists() else "device"
    if kind == "system":
        load_system(path)
    elif kind == "profile":
        check_profile_file(path)
    elif kind == "transfer":
        check_widening_file(path)
    elif kind == "plan families":
        check_family_file(path)
    else:
        load_device(path if path.endswith((".yaml", ".yml")) else path + ".yaml")


def _validate(args: argparse.Namespace) -> int:
    from hwspecs.errors import USER_ERRORS, message_of

    paths: list[str] = []
    for pattern in args.paths:
        found = sorted(glob.glob(pattern, recursive=True))
        paths.extend(found or [pattern])
    results = []
    for path in paths:
        try:
            _validate_one(path)
            results.append({"path": path, "ok": True, "error": None})
        except USER_ERRORS as exc:
            results.append({"path": path, "ok": False, "error": message_of(exc)})
    bad = [r for r in results if not r["ok"]]
    if args.json:
        print_json({"files": results, "ok": not bad})
    else:
        for r in results:
            print(f"ok   {r['path']}" if r["ok"] else f"FAIL {r['error']}")
        print(f"{len(results) - len(bad)} of {len(results)} spec file(s) valid")
    return 1 if bad else 0
