"""`archsim models`: the shipped model catalog, with parameter counts computed from each model."""

from __future__ import annotations

import argparse
import dataclasses

from archsim_cli.args import add_json
from archsim_cli.format import print_json, print_table


def register(sub) -> None:
    p = sub.add_parser("models", help="list the model catalog with parameter counts")
    p.add_argument("names", nargs="*", metavar="MODEL",
                   help="catalog names, config.json paths or Hub ids (default: the catalog)")
    add_json(p)
    p.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from workloads import catalog_names, load_config, model_facts

    names = args.names or catalog_names()
    rows = []
    for name in names:
        cfg = load_config(name)
        facts = model_facts(cfg)
        rows.append((cfg, facts))
    if args.json:
        print_json([{**dataclasses.asdict(f), "source": c.source} for c, f in rows])
        return 0
    print_table("Models (parameters counted from the model built on meta; bf16 KV cache)",
                ["name", "architecture", "params B", "active B", "layers", "hidden", "heads",
                 "kv heads", "experts", "KV kB/token"],
                [(f.name, f.architecture, f"{f.params / 1e9:,.3f}",
                  f"{f.active_params / 1e9:,.3f}", f.layers, f.hidden_size, f.heads,
                  f.kv_heads, f"{f.experts_per_token}/{f.experts}" if f.experts else "-",
                  f"{f.kv_bytes_per_token / 1e3:,.1f}" if f.kv_bytes_per_token else "-")
                 for _, f in rows], right_align_from=2)
    return 0
