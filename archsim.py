"""archsim, the command line: parse arguments, call the packages, print. No logic here."""

from __future__ import annotations

import sys

from archsim_cli.app import main as _main


def main(argv: list[str] | None = None) -> int:
    return _main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
