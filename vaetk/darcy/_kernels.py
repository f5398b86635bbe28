"""Python wrappers of the compiled Darcy kernels: batched assembly, velocity and the multigrid solver.

These take already-validated float64 (N, n, n) batches (see :func:`vaetk.darcy.solve` for the checks on user
input), resolve the thread count, allocate the outputs and call ``vaetk._core``. The formulas are those of
:mod:`vaetk.darcy._reference`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from vaetk._build import core
from vaetk._threads import effective_n_threads
from vaetk.darcy._sources import trapezoid_weights

__all__ = ["BatchOperator", "SCHEME_CODES", "assemble", "bordered_matrices", "mg_solve", "pattern",
           "velocity"]

SCHEME_CODES = {"paper": 0, "conservative": 1}


def _batch(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def pattern(n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` of the (n^2 x n^2) 5-point operator, columns sorted; shared by every sample.

    The arrays are read-only (cached).
    """
    nnz = core().darcy_nnz(n)
    indptr = np.empty(n * n + 1, dtype=np.int64)
    indices = np.empty(nnz, dtype=np.int64)
    core().darcy_pattern(n, indptr, indices)
    indptr.flags.writeable = False
    indices.flags.writeable = False
    return indptr, indices


@dataclass(frozen=True)
class BatchOperator:
    """A batch of sparse operators on one fixed CSR pattern.

    Attributes
    ----------
    n : int
        Nodes per side.
    indptr, indices : ndarray of int64
        The shared pattern (see :func:`pattern`).
    data : ndarray of shape (N, nnz)
        Values per sample.
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    def __len__(self) -> int:
        return self.data.shape[0]

    def matrix(self, sample: int) -> sp.csr_matrix:
        """Sample ``sample``'s operator as a scipy CSR matrix (shares the pattern arrays)."""
        size = self.n * self.n
        return sp.csr_matrix((self.data[sample], self.indices, self.indptr), shape=(size, size))


def assemble(permeability: np.ndarray, scheme: str, n_threads: int | None = None) -> BatchOperator:
    """Assemble the operator of ``scheme`` for every permeability field of a (N, n, n) batch (C++, parallel).

    Parameters
    ----------
    permeability : ndarray of shape (N, n, n)
        Positive and finite (not checked here).
    scheme : {"paper", "conservative"}
    n_threads : int, optional
        See :func:`vaetk.effective_n_threads`.
    """
    K = _batch(permeability)
    n = K.shape[-1]
    indptr, indices = pattern(n)
    data = np.empty((K.shape[0], indices.size))
    core().darcy_assemble(K, SCHEME_CODES[scheme], data, effective_n_threads(n_threads))
    return BatchOperator(n, indptr, indices, data)


def bordered_matrices(op: BatchOperator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR pattern and values of every sample's bordered system [[A, w], [w^T, 0]].

    Returns
    -------
    indptr, indices : ndarray of int64
        Pattern of the (n^2 + 1) square bordered matrix (w appended at the end of each row, then a last row w^T).
    data : ndarray of shape (N, nnz + 2 n^2)
    """
    n, size = op.n, op.n * op.n
    w = trapezoid_weights(n).ravel()
    counts = np.diff(op.indptr)
    # Row k of the bordered matrix: row k of A followed by w_k in column n^2.
    ends = op.indptr[1:]
    indices = np.insert(op.indices, ends, size)
    indices = np.concatenate([indices, np.arange(size)])
    indptr = np.concatenate([[0], np.cumsum(counts + 1), [op.indices.size + 2 * size]])
    data = np.insert(op.data, ends, w, axis=1)
    data = np.concatenate([data, np.broadcast_to(w, (len(op), size))], axis=1)
    return indptr.astype(np.int64), indices.astype(np.int64), np.ascontiguousarray(data)


def velocity(pressure: np.ndarray, permeability: np.ndarray, scheme: str,
             n_threads: int | None = None) -> np.ndarray:
    """u = -K grad p for a (N, n, n) batch, shape (N, 2, n, n); normal component zero on the boundary."""
    p, K = _batch(pressure), _batch(permeability)
    u = np.empty((K.shape[0], 2, K.shape[1], K.shape[2]))
    core().darcy_velocity(p, K, SCHEME_CODES[scheme], u, effective_n_threads(n_threads))
    return u


def mg_solve(
    permeability: np.ndarray,
    source: np.ndarray,
    scheme: str,
    *,
    tol: float,
    maxiter: int,
    pre_sweeps: int = 1,
    post_sweeps: int = 1,
    coarse_nodes: int = 5,
    coarsening: str = "galerkin",
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multigrid-preconditioned Krylov solve of ``scheme``'s bordered systems (C++, parallel over the batch).

    Conservative: CG on the symmetric semi-definite operator. Paper: GMRES(30) on a rank-one-regularised operator
    (see ``csrc/include/vaetk/darcy.hpp``). ``iterations`` counts CG or GMRES steps (one V-cycle each).
    ``coarsening``: ``"galerkin"`` (P^T A P) or ``"rediscretize"`` (coarsened face coefficients; for the paper
    scheme those of the conservative operator of the same K, which only changes the preconditioner).

    Returns
    -------
    pressure : ndarray of shape (N, n, n)
        Zero weighted mean.
    residual : ndarray of shape (N,)
        Relative residual of each bordered system.
    iterations : ndarray of shape (N,), int64
    """
    K, f = _batch(permeability), _batch(source)
    p = np.empty_like(K)
    residual = np.empty(K.shape[0])
    iterations = np.empty(K.shape[0], dtype=np.int64)
    kernel = core().darcy_solve_conservative_mg if scheme == "conservative" else core().darcy_solve_paper_mg
    kernel(K, f, float(tol), int(maxiter), int(pre_sweeps), int(post_sweeps),
           int(coarse_nodes), p, residual, iterations, effective_n_threads(n_threads), coarsening == "rediscretize")
    return p, residual, iterations
