"""The ``direct`` solver: SuperLU (scipy ``splu``) on each sample's bordered system, both schemes.

Every sample shares one sparsity pattern (C++ assembly on a fixed CSR pattern), so the fill-reducing column
ordering is computed once, on the first sample, and reused: later samples are factored with their columns
permuted by it and ``permc_spec="NATURAL"``, which skips the ordering step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from vaetk.darcy._kernels import assemble, bordered_matrices
from vaetk.darcy._sources import trapezoid_weights
from vaetk.darcy.solvers import Solver, SolverResult, bordered_rhs
from vaetk.errors import SolverError


class DirectSolver(Solver):
    """Sparse LU of the bordered system, with the column ordering of the first sample reused for the batch."""

    @dataclass(frozen=True)
    class Config:
        """Parameters of the direct solver.

        Attributes
        ----------
        reuse_ordering : bool
            Compute the COLAMD column ordering once per batch (True) or once per sample (False).
        """

        reuse_ordering: bool = True

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
        size = n * n + 1
        indptr, indices, data = bordered_matrices(assemble(permeability, scheme, n_threads))
        b = np.zeros((batch, size))
        b[:, :-1] = bordered_rhs(source, scheme)
        pressure = np.empty((batch, n, n))
        residual = np.empty(batch)
        perm = None
        for s in range(batch):
            M = sp.csr_matrix((data[s], indices, indptr), shape=(size, size))
            try:
                if perm is None:
                    lu = spla.splu(M.tocsc(), permc_spec="COLAMD")
                    x = lu.solve(b[s])
                    if self.config.reuse_ordering:
                        perm = lu.perm_c.copy()
                        order = np.argsort(perm)  # column j of M[:, order] is column order[j] of M
                else:
                    lu = spla.splu(M.tocsc()[:, order], permc_spec="NATURAL")
                    x = np.empty(size)
                    x[order] = lu.solve(b[s])
            except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
                raise SolverError(f"Solver 'direct' failed on sample {s}: {exc}.") from exc
            bnorm = max(np.linalg.norm(b[s]), np.finfo(float).tiny)
            residual[s] = np.linalg.norm(b[s] - M @ x) / bnorm
            if not np.isfinite(residual[s]):
                raise SolverError(f"Solver 'direct' produced a non-finite solution for sample {s}.")
            p = x[:-1].reshape(n, n)
            pressure[s] = p - (trapezoid_weights(n) * p).sum()  # exact zero mean up to rounding
        return SolverResult(pressure, residual, np.zeros(batch, dtype=np.int64))
