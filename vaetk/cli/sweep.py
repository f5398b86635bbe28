"""``vaetk sweep EXPERIMENT --seeds N [--set KEY=VALUE ...] [--workers N] [--threads N] [--scheduler ADDR|local]
[--ensemble K]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from vaetk.cli._options import DeprecatedAlias, add_execution_options, add_threads_per_trial_alias

HELP = "run an experiment over seeds and a grid of settings, locally or on a Dask cluster (resumable)"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", type=Path,
                        help="experiment TOML file, or a preset name (as for `vaetk train`; see `vaetk train --list`)")
    parser.add_argument("--seeds", type=int, required=True, metavar="N", help="trials per setting (seeds 0..N-1)")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S", help="start seeds at S (default 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted key; a list value ([1, 8, 32]) is swept as a grid axis")
    parser.add_argument("--out", type=Path, default=None,
                        help="sweep directory (default: runs/sweeps/<experiment name>)")
    add_execution_options(parser, workers_default=1, workers_help="trials at once (default 1)", threads_default=1,
                          threads_help="threads each trial may use (default 1)", tasks="trials")
    add_threads_per_trial_alias(parser)
    parser.add_argument("--executor", choices=("local", "dask"), default="local", action=DeprecatedAlias,
                        replacement="--scheduler local", note=" for a Dask LocalCluster (no option: a local pool)")
    parser.add_argument("--trial", default=None, metavar="MODULE:FUNCTION",
                        help="trial function (default: train with vaetk's trainer, then evaluate metrics)")
    parser.add_argument("--seed-key", dest="seed_keys", action="append", default=None, metavar="KEY",
                        help="dotted key set to each trial's seed (repeatable; default training.seed)")
    parser.add_argument("--ensemble", type=int, default=1, metavar="K",
                        help="train up to K seeds of a setting at once in one process (each still its own run "
                             "directory and trial; default 1: every trial alone)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from vaetk.errors import ConfigError
    from vaetk.sweeps import DEFAULT_TRIAL, parse_set_options, run_sweep

    if args.seeds < 1 or args.first_seed < 0:
        raise ConfigError(f"--seeds must be >= 1 and --first-seed >= 0 (got {args.seeds}, {args.first_seed}).")
    from vaetk.training._config import experiment_table

    experiment, _ = experiment_table(args.experiment)  # data.path made absolute, so every worker finds it
    out = args.out or Path("runs") / "sweeps" / Path(str(args.experiment).removeprefix("preset:")).stem
    result = run_sweep(
        experiment, out, seeds=range(args.first_seed, args.first_seed + args.seeds),
        overrides=parse_set_options(args.overrides), trial=args.trial or DEFAULT_TRIAL,
        executor=args.executor, scheduler=args.scheduler, workers=args.workers,
        threads_per_trial=args.threads, seed_key=args.seed_keys or "training.seed",
        progress=not args.no_progress, ensemble=args.ensemble,
    )
    skipped = sum(o.skipped for o in result.outcomes)
    print(f"{out}: {result.n_ok} of {len(result.outcomes)} trials ok ({skipped} finished earlier), "
          f"{len(result.failed)} failed")
    for o in result.failed:
        print(f"  {o.trial_id}: exit status {o.exit_status}: {o.error}  (log: {out}/records/{o.trial_id}/trial.log)")
    print(f"summarise with: vaetk summarize {out}")
    return 0 if not result.failed else 1
