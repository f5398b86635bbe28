"""Options shared by several subcommands, and old spellings kept working.

One vocabulary across commands: ``--n`` is grid nodes per side, ``--n-samples`` a number of samples; parallel
work is sized by ``--workers`` (tasks at once), ``--threads`` (threads per task) and ``--scheduler`` (where the
tasks run: a local pool by default, ``local`` for a Dask LocalCluster, or a Dask scheduler address; see
:mod:`vaetk._executors`). An older spelling still parses, prints a deprecation message on stderr and is hidden
from ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from vaetk._executors import LOCAL_CLUSTER


def warn_deprecated(parser: argparse.ArgumentParser, old: str, new: str, note: str = "") -> None:
    """Print ``PROG: warning: OLD is deprecated; use NEW`` (and ``note``) on stderr."""
    print(f"{parser.prog}: warning: {old} is deprecated; use {new}{note}", file=sys.stderr)


class DeprecatedAlias(argparse.Action):
    """An old option that stores into the new option's ``dest`` after a deprecation message (hidden from help).

    Parameters
    ----------
    replacement : str
        The spelling to use instead, as shown in the message.
    note : str
        Appended to the message (start it with "; " or ". ").
    """

    def __init__(self, option_strings: Sequence[str], dest: str, *, replacement: str, note: str = "",
                 **kwargs: Any) -> None:
        kwargs.setdefault("help", argparse.SUPPRESS)
        kwargs.setdefault("default", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.replacement = replacement
        self.note = note

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        warn_deprecated(parser, option_string or self.option_strings[0], self.replacement, self.note)
        setattr(namespace, self.dest, values)


class SchedulerOption(argparse.Action):
    """``--scheduler ADDRESS|local``; the old value ``dask`` (a LocalCluster) becomes ``local`` with a message."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values == "dask":
            warn_deprecated(parser, f"{option_string} dask", f"{option_string} {LOCAL_CLUSTER}")
            values = LOCAL_CLUSTER
        setattr(namespace, self.dest, values)


def add_execution_options(parser: argparse.ArgumentParser, *, workers_default: int | None, workers_help: str,
                          threads_default: int | None, threads_help: str, tasks: str) -> None:
    """Add ``--workers N``, ``--threads N`` and ``--scheduler ADDRESS|local`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    workers_default, threads_default : int or None
        Defaults of ``--workers`` and ``--threads``.
    workers_help, threads_help : str
        Their help texts.
    tasks : str
        What the tasks are, in the help of ``--scheduler`` ("shard tasks", "trials").
    """
    parser.add_argument("--workers", type=int, default=workers_default, metavar="N", help=workers_help)
    parser.add_argument("--threads", type=int, default=threads_default, metavar="N", help=threads_help)
    parser.add_argument(
        "--scheduler", action=SchedulerOption, default=None, metavar="ADDRESS|local",
        help=f"run the {tasks} on Dask: 'local' starts a LocalCluster of --workers workers on this machine "
             f"(loopback only), an address (tcp://host:8786) uses the scheduler there, whose workers must see the "
             f"same files (default: a local pool, no Dask)",
    )


def add_threads_per_trial_alias(parser: argparse.ArgumentParser) -> None:
    """The hidden ``--threads-per-trial N``, the old spelling of ``--threads`` for sweeps."""
    parser.add_argument("--threads-per-trial", dest="threads", type=int, metavar="N", action=DeprecatedAlias,
                        replacement="--threads")
