"""Entry point of the ``vaetk`` command.

Each subcommand lives in its own module exposing ``HELP``, ``populate_parser(parser)`` and ``run(args) -> int``;
heavy imports (torch, plugins) happen inside ``run`` so ``vaetk --help`` stays instant. Exit codes: 0 success,
1 a user error (config, plugin, data, missing build feature; message on stderr, traceback only with --debug),
2 a usage error (argparse), 130 interrupted, 141 output closed early (``vaetk ... | head``; nothing printed).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from vaetk.errors import VaetkError

# Subcommand name -> module. A module that is not present in this build is simply not offered.
COMMANDS = {
    "info": "vaetk.cli.info",
    "plugins": "vaetk.cli.plugins",
    "demo": "vaetk.cli.demo",
    "solve": "vaetk.cli.solve",
    "generate": "vaetk.cli.generate",
    "export": "vaetk.cli.export",
    "train": "vaetk.cli.train",
    "evaluate": "vaetk.cli.evaluate",
    "evaluate-latents": "vaetk.cli.evaluate_latents",
    "analyze": "vaetk.cli.analyze",
    "sweep": "vaetk.cli.sweep",
    "summarize": "vaetk.cli.summarize",
    "compare": "vaetk.cli.compare",
    "reproduce": "vaetk.cli.reproduce",
}


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("vaetk")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaetk", allow_abbrev=False,
        description="Physical-field datasets, disentangling VAEs and disentanglement metrics.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"vaetk {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, allow_abbrev=False)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks for errors")
        module.populate_parser(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except VaetkError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"vaetk {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vaetk {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`vaetk plugins list | head`): end quietly. Python would report the failed flush
        # of stdout at exit, so point stdout at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
