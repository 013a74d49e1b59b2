"""Argument parsing and the one place user errors become a line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import archsim_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archsim",
        description="What would this Transformer cost, and how fast would it run, on that "
                    "hardware?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(archsim_cli.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"archsim_cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, LookupError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)
        print(f"archsim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
