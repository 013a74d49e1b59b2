"""The command line's subcommands, one module each, each with `register(subparsers)`."""
