"""``vaetk demo``: the main job end to end. For now: solve a batch of KLE2 Darcy problems and print a summary with
timings (:func:`vaetk.cli.solve.solve_summary`); later issues extend it to generate, train and evaluate."""

from __future__ import annotations

import argparse

from vaetk.cli.solve import add_solve_arguments, summary_from_args

HELP = "run the main job on a small scale (for now: solve a batch of KLE2 Darcy problems, print a summary)"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    add_solve_arguments(parser, n_samples=64)


def run(args: argparse.Namespace) -> int:
    print("vaetk demo: Darcy flow with KLE2 permeability (paper section 3)")
    print("\n".join(summary_from_args(args).lines()))
    return 0
