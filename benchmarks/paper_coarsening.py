"""The native paper-scheme solver with Galerkin against rediscretised coarse levels, next to the conservative scheme,
in one run (issue 15: the paper scheme's speed gap).

Run: ``python benchmarks/paper_coarsening.py``. KLE2 fields (standard-normal theta), one thread, tol 1e-10; 256
samples at n = 65 and 64 at n = 129; the last of three rounds is printed (milliseconds per sample, GMRES or CG steps).
"""

from __future__ import annotations

import time

import numpy as np

from vaetk.darcy import _kernels
from vaetk.darcy._kle import kle_basis
from vaetk.darcy._sources import paper_source
from vaetk.data._generate import sample_theta
from vaetk.distributions import create


def main() -> None:
    print("| n | scheme | coarse levels | ms per sample | steps (mean, max) |\n|---|---|---|---|---|")
    for n, batch in ((65, 256), (129, 64)):
        theta = sample_theta(create("standard_normal", {"dim": 2}), 0, "train", 0, batch)
        K = kle_basis(n, n_modes=2).permeability(theta)
        cases = [("paper", "galerkin", "node"), ("paper", "rediscretize", "node"),
                 ("conservative", "rediscretize", "cell")]
        for rnd in range(3):
            for scheme, coarsening, quadrature in cases:
                f = np.broadcast_to(paper_source(n, quadrature=quadrature), K.shape).copy()
                start = time.perf_counter()
                _, _, it = _kernels.mg_solve(K, f, scheme, coarsening=coarsening, n_threads=1, tol=1e-10,
                                             maxiter=100)
                ms = (time.perf_counter() - start) / batch * 1e3
                if rnd == 2:
                    print(f"| {n} | {scheme} | {coarsening} | {ms:.2f} | {it.mean():.1f}, {it.max()} |")


if __name__ == "__main__":
    main()
