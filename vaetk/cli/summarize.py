"""``vaetk summarize SWEEP_DIR``: S_D / S_KL / rates / losses per setting, and the S_D figure."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "summarise a sweep: S_D and S_KL median/range, disentangled and over-regularised rates, losses"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    from vaetk.sweeps import DEFAULT_THRESHOLD

    parser.add_argument("sweep_dir", type=Path, help="a directory written by `vaetk sweep`")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"S_D at or above which a trial counts as disentangled (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--plot-key", default=None,
                        help="swept key for the S_D figure (default: the only numeric swept key)")
    parser.add_argument("--divisor", type=float, default=1.0,
                        help="divide the plotted key by this (512: number of labels -> labelled fraction)")


def run(args: argparse.Namespace) -> int:
    from vaetk.sweeps import format_table, summarize_sweep

    summaries = summarize_sweep(args.sweep_dir, threshold=args.threshold, plot_key=args.plot_key,
                                divisor=args.divisor)
    print(format_table(summaries, threshold=args.threshold), end="")
    written = ["summary.md", "summary.csv", "summary.json"]
    if (args.sweep_dir / "summary_sd.png").is_file():
        written.append("summary_sd.png")
    print(f"wrote {', '.join(str(args.sweep_dir / w) for w in written)}")
    return 0
