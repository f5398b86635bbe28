"""Which checkerboard contrasts each scheme and solver handles (issue 15): a markdown table of the relative
residual / iterations (or the failure) and the mass-balance error of the result.

Run: ``python benchmarks/contrast_range.py [--n 65] [--block 8]``. K is c on the black squares of a
``block`` x ``block`` checkerboard and 1 elsewhere; the default tolerances and iteration limits of each solver.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from vaetk.darcy import UntrustedSolutionWarning, solve
from vaetk.errors import SolverError

CONTRASTS = (3, 10, 30, 100, 1000)


def cell(K: np.ndarray, scheme: str, solver: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrustedSolutionWarning)
        try:
            _, info = solve(K, scheme=scheme, solver=solver, return_info=True)
        except SolverError as exc:
            return "fails (" + str(exc).split("relative residual ")[1].split(" ")[0] + ")"
    return f"{info.residual.max():.0e} / {int(info.iterations.max())} it, mass {info.mass_balance.max():.0e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=65)
    parser.add_argument("--block", type=int, default=8)
    args = parser.parse_args()
    i, j = np.indices((args.n, args.n))
    rows = [("conservative", s) for s in ("native", "torch", "direct")] + \
        [("paper", s) for s in ("native", "torch", "direct")]
    print(f"n = {args.n}, checkerboard blocks of {args.block} nodes\n")
    print("| scheme | solver | " + " | ".join(f"contrast {c}" for c in CONTRASTS) + " |")
    print("|---|---|" + "---|" * len(CONTRASTS))
    for scheme, solver in rows:
        cells = [cell(np.where((i // args.block + j // args.block) % 2 == 0, float(c), 1.0)[None], scheme, solver)
                 for c in CONTRASTS]
        print(f"| {scheme} | {solver} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
