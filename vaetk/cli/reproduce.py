"""``vaetk reproduce SECTION --scale cpu|paper``: the paper's sweeps for sections 5.1, 5.2, 5.3 and 6."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaetk.cli._options import add_execution_options, add_threads_per_trial_alias

HELP = "run the paper's sweeps for one section (5.1, 5.2, 5.3, 6) at CPU or paper scale, and report"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("section", help="paper section: 5.1, 5.2, 5.3 or 6")
    parser.add_argument("--scale", default="cpu",
                        help="cpu (default): small model, short schedules; cpu_slow: cpu with the authors' beta "
                             "schedule and no reconstruction phase; cpu_beta1: cpu with beta = 1 from the first step; "
                             "paper: the paper-sized presets (GPU)")
    parser.add_argument("--study", dest="studies", action="append", default=None, metavar="NAME",
                        help="run only this study of the section (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="output root (data + sweeps)")
    parser.add_argument("--seeds", type=int, default=None, help="trials per setting (default: the scale's)")
    add_execution_options(parser, workers_default=1,
                          workers_help="trials at once, and dataset generation's worker processes (default 1)",
                          threads_default=1, threads_help="threads each trial may use (default 1)", tasks="trials")
    add_threads_per_trial_alias(parser)
    parser.add_argument("--threshold", type=float, default=None, help="S_D threshold for 'disentangled'")
    parser.add_argument("--smoke", action="store_true",
                        help="check the scale's path end to end in minutes: 1 seed, 2 epochs, 128 training samples "
                             "(results are meaningless; written to <scale>_smoke folders)")
    parser.add_argument("--ensemble", type=int, default=1, metavar="K",
                        help="train up to K seeds of a setting at once in one process (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from vaetk.sweeps import DEFAULT_THRESHOLD
    from vaetk.sweeps._reproduce import reproduce

    report = reproduce(args.section, scale=args.scale, out=args.out, seeds=args.seeds, studies=args.studies,
                       workers=args.workers,
                       threads_per_trial=args.threads, scheduler=args.scheduler,
                       threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
                       progress=not args.no_progress, smoke=args.smoke,
                       ensemble=args.ensemble)
    print(report.read_text(), end="")
    print(f"wrote {report}")
    return 0
