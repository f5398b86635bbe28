"""The ``amg`` solver: pyamg algebraic multigrid (setup + preconditioned CG per sample), conservative scheme.

The conservative operator A is symmetric positive semi-definite with the constants as null space and 1^T A = 0,
so the bordered system's multiplier is lam = sum(w f) (sum(w) = 1) and p solves the compatible singular system
A p = w f - lam w. scipy's CG solves it with the pyamg V-cycle as preconditioner, its output projected to zero
sum (pyamg's own CG aborts on the semi-definite system); p is then shifted to zero weighted mean. The
paper scheme's operator is not symmetric and is not supported here (use ``direct``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vaetk.plugin import (
    Solver,
    SolverResult,
    assemble,
    bordered_rhs,
    check_param,
    raise_if_unconverged,
    trapezoid_weights,
)


class AMGSolver(Solver):
    """pyamg smoothed-aggregation (or Ruge-Stuben) AMG as a CG preconditioner, one hierarchy per sample."""

    name = "amg"
    iterative = True

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of the AMG solver.

        Attributes
        ----------
        method : {"smoothed_aggregation", "ruge_stuben"}
            pyamg hierarchy.
        tol : float
            Relative residual of the bordered system to reach.
        maxiter : int
            CG iterations at most.
        """

        method: Literal["smoothed_aggregation", "ruge_stuben"] = "smoothed_aggregation"
        tol: float = 1e-10
        maxiter: int = 200

        def __post_init__(self) -> None:
            owner = "solver 'amg'"
            check_param(self.method in ("smoothed_aggregation", "ruge_stuben"), "method",
                        "one of 'smoothed_aggregation', 'ruge_stuben'", self.method, owner)
            check_param(0 < self.tol < 1, "tol", "a number in (0, 1)", self.tol, owner)
            check_param(self.maxiter >= 1, "maxiter", "an int >= 1", self.maxiter, owner)

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
        import pyamg
        import scipy.sparse.linalg as spla

        tol = self.effective_tol(tol, permeability.shape[-1])
        batch, n = permeability.shape[0], permeability.shape[-1]
        w = trapezoid_weights(n).ravel()
        rhs = bordered_rhs(source, scheme)
        op = assemble(permeability, scheme, n_threads)
        if self.config.method == "smoothed_aggregation":
            # 'local' weighting bounds the spectral radius without pyamg's unseeded random power iteration, so
            # the hierarchy (and the result) is the same on every run.
            def build(A):  # type: ignore[no-untyped-def]
                return pyamg.smoothed_aggregation_solver(A, smooth=("jacobi", {"omega": 4 / 3, "weighting": "local"}))
        else:
            build = pyamg.ruge_stuben_solver
        pressure = np.empty((batch, n, n))
        residual = np.empty(batch)
        iterations = np.zeros(batch, dtype=np.int64)
        for s in range(batch):
            A = op.matrix(s)
            rhs_norm = np.linalg.norm(rhs[s])
            if rhs_norm == 0.0:
                pressure[s], residual[s] = 0.0, 0.0
                continue
            b = rhs[s] - rhs[s].sum() * w  # compatible: 1^T b = 0
            b_norm = max(np.linalg.norm(b), np.finfo(float).tiny)
            cycle = build(A).aspreconditioner(cycle="V")
            M = spla.LinearOperator(A.shape, matvec=lambda r, cycle=cycle: _zero_sum(cycle @ r))
            count = [0]
            x, _ = spla.cg(A, b, rtol=tol * rhs_norm / b_norm, atol=0.0, maxiter=self.config.maxiter, M=M,
                           callback=lambda _x, count=count: count.__setitem__(0, count[0] + 1))
            iterations[s] = count[0]
            residual[s] = np.linalg.norm(b - A @ x) / rhs_norm
            pressure[s] = (x - (w * x).sum()).reshape(n, n)
        raise_if_unconverged(residual, iterations, tol, "amg", self.config.maxiter)
        return SolverResult(pressure, residual, iterations)


def _zero_sum(v: np.ndarray) -> np.ndarray:
    return v - v.mean()
