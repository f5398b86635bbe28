"""``vaetk compare NAME=SWEEP_DIR ... [--reference NAME] --out DIR``: arms of an experiment on paired seeds."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

HELP = "compare sweeps run on paired seeds: rates with 95% intervals, paired tests, S_D trajectories, strip plot"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    from vaetk.sweeps import DEFAULT_THRESHOLD

    parser.add_argument("arms", nargs="+", metavar="NAME=SWEEP_DIR",
                        help="an arm: its name and its sweep directory (e.g. plain=runs/sweeps/plain)")
    parser.add_argument("--reference", default=None, help="the arm the others are tested against (default: first)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"S_D at or above which a trial counts as disentangled (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--moved", type=float, default=0.1,
                        help="a trial 'moved' when |S_D final - S_D at epoch 10| exceeds this (default 0.1)")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory for comparison.md, comparison.json and comparison.png")


def _parse_arms(specs: list[str]) -> dict[str, Path]:
    from vaetk.errors import ConfigError

    arms: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"arm {spec!r}: expected NAME=SWEEP_DIR, e.g. plain=runs/sweeps/plain.")
        if name in arms:
            raise ConfigError(f"arm {name!r} is given twice.")
        if not Path(path).is_dir():
            raise ConfigError(f"arm {name!r}: {path!r} is not a directory (expected a sweep directory).")
        arms[name] = Path(path)
    return arms


def run(args: argparse.Namespace) -> int:
    from vaetk.sweeps._compare import compare_arms, format_comparison, plot_arms

    comparison = compare_arms(_parse_arms(args.arms), threshold=args.threshold, moved=args.moved,
                              reference=args.reference)
    args.out.mkdir(parents=True, exist_ok=True)
    table = format_comparison(comparison)
    (args.out / "comparison.md").write_text(table)
    (args.out / "comparison.json").write_text(json.dumps(asdict(comparison), indent=1, default=str))
    fig = plot_arms(comparison)
    fig.savefig(args.out / "comparison.png", dpi=120)
    print(table, end="")
    print(f"wrote {args.out / 'comparison.md'}, comparison.json, comparison.png")
    return 0
