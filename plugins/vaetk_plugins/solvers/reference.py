"""The ``reference`` solver: pure-NumPy assembly and scipy ``spsolve`` (vaetk/darcy/_reference.py).

Slow and simple; independent of the C++ kernels, so the other solvers are tested against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetk.plugin import Solver, SolverResult, reference_solve


class ReferenceSolver(Solver):
    """One sample at a time: NumPy assembly + sparse LU of the bordered system (both schemes)."""

    name = "reference"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """The reference solver has no parameters."""

    def supports(self, scheme: str) -> bool:
        return scheme in ("paper", "conservative")

    def solve_batch(
        self,
        permeability: np.ndarray,
        source: np.ndarray,
        scheme: str,
        *,
        tol: float | None = None,
        n_threads: int | None = None,
    ) -> SolverResult:
        batch, n = permeability.shape[0], permeability.shape[-1]
        pressure, residual = np.empty((batch, n, n)), np.empty(batch)
        for s in range(batch):
            fields, residual[s] = reference_solve(permeability[s], source[s], scheme)
            pressure[s] = fields[0]
        return SolverResult(pressure, residual, np.zeros(batch, dtype=np.int64))
