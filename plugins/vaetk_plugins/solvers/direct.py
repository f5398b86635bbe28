"""The ``direct`` solver: SuperLU (scipy ``splu``) on each sample's bordered system, both schemes.

Every sample shares one sparsity pattern (C++ assembly on a fixed CSR pattern, bordered once in NumPy), so the
batch costs one ordering + factorisation + solve per sample and nothing else. The default ordering is minimum
degree on A^T + A with SuperLU's symmetric mode and threshold pivoting that prefers the diagonal: on these
5-point operators it has 40 % less fill than COLAMD (scipy's default). scipy does not expose SuperLU's symbolic
factorisation, and reusing the first sample's final column permutation with ``permc_spec="NATURAL"`` was tried
and gives ten times more fill (SuperLU post-orders the elimination tree again), so the ordering is recomputed per
sample; it is a small part of the factorisation time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from vaetk.plugin import (
    Solver,
    SolverError,
    SolverResult,
    assemble,
    bordered_matrices,
    bordered_rhs,
    check_param,
    trapezoid_weights,
)


class DirectSolver(Solver):
    """Sparse LU (SuperLU) of each sample's bordered system, assembled by the C++ kernels."""

    name = "direct"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of the direct solver.

        Attributes
        ----------
        ordering : {"MMD_AT_PLUS_A", "COLAMD"}
            SuperLU column ordering. ``"MMD_AT_PLUS_A"`` (default) runs in symmetric mode with diagonal
            threshold pivoting; ``"COLAMD"`` is scipy's default (partial pivoting).
        """

        ordering: Literal["MMD_AT_PLUS_A", "COLAMD"] = "MMD_AT_PLUS_A"

        def __post_init__(self) -> None:
            check_param(self.ordering in ("MMD_AT_PLUS_A", "COLAMD"), "ordering",
                        "one of 'MMD_AT_PLUS_A', 'COLAMD'", self.ordering, "solver 'direct'")

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
        if self.config.ordering == "MMD_AT_PLUS_A":
            # Pivot on the diagonal unless it is below 1 % of the column maximum (the bordered system's last
            # diagonal entry is zero; it is eliminated last or pivoted away).
            options = {"permc_spec": "MMD_AT_PLUS_A", "diag_pivot_thresh": 0.01,
                       "options": {"SymmetricMode": True}}
        else:
            options = {"permc_spec": "COLAMD"}
        w = trapezoid_weights(n)
        pressure = np.empty((batch, n, n))
        residual = np.empty(batch)
        for s in range(batch):
            M = sp.csr_matrix((data[s], indices, indptr), shape=(size, size))
            try:
                x = spla.splu(M.tocsc(), **options).solve(b[s])
            except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
                raise SolverError(f"Solver 'direct' failed on sample {s}: {exc}.") from exc
            bnorm = max(np.linalg.norm(b[s]), np.finfo(float).tiny)
            residual[s] = np.linalg.norm(b[s] - M @ x) / bnorm
            if not np.isfinite(residual[s]):
                raise SolverError(f"Solver 'direct' produced a non-finite solution for sample {s}.")
            p = x[:-1].reshape(n, n)
            pressure[s] = p - (w * p).sum()  # exact zero mean up to rounding
        return SolverResult(pressure, residual, np.zeros(batch, dtype=np.int64))
