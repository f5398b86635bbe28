"""The ``native`` solver: matrix-free geometric multigrid-preconditioned CG in C++, parallel over the batch.

The default solver of the conservative scheme (``solver="auto"``). See ``csrc/include/vaetk/darcy.hpp`` for the
method: vertex coarsening by two for any n, bilinear prolongation, Galerkin coarse operators, symmetric
Gauss-Seidel V-cycle, dense coarsest solve; the constant null space is handled by solving for the multiplier in
closed form and projecting the preconditioned residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetk.config import check_param
from vaetk.darcy._kernels import mg_solve_conservative
from vaetk.darcy.solvers import Solver, SolverResult, raise_if_unconverged


class NativeSolver(Solver):
    """Multigrid-preconditioned conjugate gradients (C++, OpenMP over the batch); conservative scheme only."""

    iterative = True

    @dataclass(frozen=True)
    class Config:
        """Parameters of the native solver.

        Attributes
        ----------
        tol : float
            Relative residual of the bordered system to reach.
        maxiter : int
            CG iterations at most (typically 8-20 are needed).
        pre_sweeps, post_sweeps : int
            Forward / backward Gauss-Seidel sweeps per level (equal values keep the preconditioner symmetric).
        coarse_nodes : int
            Coarsen until at most this many nodes per side remain, then solve densely.
        """

        tol: float = 1e-10
        maxiter: int = 100
        pre_sweeps: int = 1
        post_sweeps: int = 1
        coarse_nodes: int = 9

        def __post_init__(self) -> None:
            owner = "solver 'native'"
            check_param(0 < self.tol < 1, "tol", "a number in (0, 1)", self.tol, owner)
            check_param(self.maxiter >= 1, "maxiter", "an int >= 1", self.maxiter, owner)
            check_param(self.pre_sweeps >= 0, "pre_sweeps", "an int >= 0", self.pre_sweeps, owner)
            check_param(self.post_sweeps >= 0, "post_sweeps", "an int >= 0", self.post_sweeps, owner)
            check_param(self.pre_sweeps + self.post_sweeps >= 1, "pre_sweeps", "such that pre_sweeps + "
                        "post_sweeps >= 1 (a V-cycle without smoothing does not converge)", self.pre_sweeps, owner)
            check_param(3 <= self.coarse_nodes <= 33, "coarse_nodes", "an int in [3, 33]", self.coarse_nodes, owner)

    def supports(self, scheme: str) -> bool:
        return scheme == "conservative"

    def solve_batch(
        self,
        permeability: np.ndarray,
        source: np.ndarray,
        scheme: str,
        *,
        tol: float | None = None,
        n_threads: int | None = None,
    ) -> SolverResult:
        tol = self.effective_tol(tol)
        c = self.config
        p, residual, iterations = mg_solve_conservative(
            permeability, source, tol=tol, maxiter=c.maxiter, pre_sweeps=c.pre_sweeps, post_sweeps=c.post_sweeps,
            coarse_nodes=c.coarse_nodes, n_threads=n_threads)
        raise_if_unconverged(residual, iterations, tol, "native", c.maxiter)
        return SolverResult(p, residual, iterations)
