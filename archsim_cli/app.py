"""Argument parsing and the one place errors become a line on stderr (exit code 2 for a user
error, 1 for archsim's own)."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings

import archsim_cli
from hwspecs.errors import ArchsimWarning, describe


class _Parser(argparse.ArgumentParser):
    """A flag the parser refuses is one line too (`--gpus -8`), pointing at --help, not the
    whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    """Run one command. The one error boundary of the CLI: a user error is one line on stderr
    and exit code 2; an error of archsim's own is one line and exit code 1 (with
    ARCHSIM_DEBUG=1 it is raised, traceback and all)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:          # --help, or a flag refused in one line
        return exc.code if isinstance(exc.code, int) else 2
    with warnings.catch_warnings():
        warnings.simplefilter("default", ArchsimWarning)     # each message once
        warnings.showwarning = _show(warnings.showwarning)
        return _run(args)


def _show(others):
    """archsim's own warnings as one line on stderr, like its errors; others as Python shows
    them."""
    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ArchsimWarning):
            print(f"archsim: warning: {message}", file=sys.stderr)
        else:
            others(message, category, filename, lineno, file, line)
    return show


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: every error becomes one line
        message, users = describe(exc)
        if not users and os.environ.get("ARCHSIM_DEBUG"):
            raise
        print(f"archsim: error: {message}", file=sys.stderr)
        return 2 if users else 1
