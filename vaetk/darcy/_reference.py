"""Pure-NumPy reference implementation of both Darcy schemes: slow, simple, independent of the C++ kernels.

Used by the tests to check the compiled assembly and solvers, and as the ``"reference"`` solver of
:func:`vaetk.darcy.solve`. Everything is written for one sample at a time, straight from the formulas.

Grid: n x n nodes, h = 1 / (n - 1), arrays [row, col] = [y, x]; E/W are the column neighbours (x +- h), N/S the row
neighbours (y +- h). Unknowns are numbered row-major (k = i n + j); the bordered systems append one unknown (the
Lagrange multiplier lam of the zero-mean constraint) and one row (the constraint).

Paper scheme (the authors' non-conservative expanded form of -div(K grad p) = f), at every node, with ghost nodes
mirrored for p and K (p[-1] = p[1], p[n] = p[n-2]):

    -K_C (p_E + p_W + p_N + p_S - 4 p_C) / h^2 - [(K_E - K_W)(p_E - p_W) + (K_N - K_S)(p_N - p_S)] / (4 h^2) = f_C

Conservative scheme (vertex-centred finite volume on the dual cells): between neighbours the flux coefficient is
the harmonic mean of K times the face length over the spacing (1/2 on a boundary row or column, else 1);
(A p)_C = sum_nb coef (p_C - p_nb) = w_C f_C, with w the trapezoid weights (dual-cell areas).

Both: constraint sum(w p) = 0 through the bordered system [[A, w], [w^T, 0]] [p; lam] = [rhs; 0].
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from vaetk.darcy._sources import trapezoid_weights

__all__ = [
    "assemble_conservative",
    "assemble_paper",
    "bordered",
    "conservative_residual",
    "reference_solve",
    "reference_velocity",
]


def _mirror(index: np.ndarray, n: int) -> np.ndarray:
    """Ghost index -1 -> 1 and n -> n - 2 (the mirror that imposes zero normal derivative)."""
    return np.where(index < 0, -index, np.where(index > n - 1, 2 * (n - 1) - index, index))


def assemble_paper(permeability: np.ndarray) -> sp.csr_matrix:
    """The paper scheme's (n^2 x n^2) operator A for one (n, n) permeability field (rhs is f itself)."""
    n = permeability.shape[0]
    h2 = (1.0 / (n - 1)) ** 2
    K = permeability
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    dKx = K[i, _mirror(j + 1, n)] - K[i, _mirror(j - 1, n)]  # K_E - K_W (zero on x-boundaries by the mirror)
    dKy = K[_mirror(i + 1, n), j] - K[_mirror(i - 1, n), j]  # K_N - K_S
    centre = i * n + j
    rows, cols, vals = [centre], [centre], [4.0 * K / h2]
    for (di, dj), grad in (((0, 1), dKx), ((0, -1), -dKx), ((1, 0), dKy), ((-1, 0), -dKy)):
        neighbour = _mirror(i + di, n) * n + _mirror(j + dj, n)  # a ghost's coefficient lands on its mirror
        rows.append(centre)
        cols.append(neighbour)
        vals.append(-K / h2 - grad / (4.0 * h2))
    A = sp.coo_matrix(
        (np.concatenate([v.ravel() for v in vals]),
         (np.concatenate([r.ravel() for r in rows]), np.concatenate([c.ravel() for c in cols]))),
        shape=(n * n, n * n),
    )
    return A.tocsr()  # duplicate (mirrored) entries are summed


def _faces(n: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(node a, node b, face-length factor) for every x-face and y-face between neighbouring nodes."""
    i, j = np.meshgrid(np.arange(n), np.arange(n - 1), indexing="ij")
    x_faces = (i * n + j, i * n + j + 1, np.where((i == 0) | (i == n - 1), 0.5, 1.0))
    i, j = np.meshgrid(np.arange(n - 1), np.arange(n), indexing="ij")
    y_faces = (i * n + j, (i + 1) * n + j, np.where((j == 0) | (j == n - 1), 0.5, 1.0))
    return [x_faces, y_faces]


def _harmonic(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 2.0 * a * b / (a + b)


def assemble_conservative(permeability: np.ndarray) -> sp.csr_matrix:
    """The conservative scheme's symmetric (n^2 x n^2) operator A (rhs is w * f)."""
    n = permeability.shape[0]
    K = permeability.ravel()
    rows, cols, vals = [], [], []
    for a, b, length in _faces(n):
        coef = (_harmonic(K[a], K[b]) * length).ravel()
        a, b = a.ravel(), b.ravel()
        rows += [a, b, a, b]
        cols += [a, b, b, a]
        vals += [coef, coef, -coef, -coef]
    A = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n))
    return A.tocsr()


def bordered(A: sp.spmatrix, n: int) -> sp.csr_matrix:
    """[[A, w], [w^T, 0]] with w the trapezoid weights: imposes sum(w p) = 0 with a Lagrange multiplier."""
    w = trapezoid_weights(n).reshape(-1, 1)
    return sp.bmat([[A, sp.csr_matrix(w)], [sp.csr_matrix(w.T), None]], format="csr")


def reference_velocity(pressure: np.ndarray, permeability: np.ndarray, scheme: str) -> np.ndarray:
    """(u_x, u_y) of shape (2, n, n); the normal component is zero on each boundary edge.

    Paper: u = -K_node * central difference. Conservative: the average of the two adjacent face velocities
    -K_face (p_nb - p) / h, with the harmonic-mean face permeability of the scheme.
    """
    n = pressure.shape[0]
    h = 1.0 / (n - 1)
    p, K = pressure, permeability
    u = np.zeros((2, n, n))
    if scheme == "paper":
        u[0, :, 1:-1] = -K[:, 1:-1] * (p[:, 2:] - p[:, :-2]) / (2 * h)
        u[1, 1:-1, :] = -K[1:-1, :] * (p[2:, :] - p[:-2, :]) / (2 * h)
    else:
        flux_x = -_harmonic(K[:, 1:], K[:, :-1]) * (p[:, 1:] - p[:, :-1]) / h  # on x-faces, (n, n-1)
        flux_y = -_harmonic(K[1:, :], K[:-1, :]) * (p[1:, :] - p[:-1, :]) / h  # on y-faces, (n-1, n)
        u[0, :, 1:-1] = 0.5 * (flux_x[:, 1:] + flux_x[:, :-1])
        u[1, 1:-1, :] = 0.5 * (flux_y[1:, :] + flux_y[:-1, :])
    return u


def conservative_residual(pressure: np.ndarray, permeability: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Per dual cell: net outflow of the conservative-scheme flux minus the injected w f, shape (n, n)."""
    n = pressure.shape[0]
    A = assemble_conservative(permeability)
    return (A @ pressure.ravel()).reshape(n, n) - trapezoid_weights(n) * source


def reference_solve(permeability: np.ndarray, source: np.ndarray, scheme: str) -> tuple[np.ndarray, float]:
    """Solve one sample with scipy's sparse LU on the bordered system.

    Parameters
    ----------
    permeability, source : ndarray of shape (n, n)
    scheme : {"paper", "conservative"}

    Returns
    -------
    fields : ndarray of shape (3, n, n)
        [p, u_x, u_y].
    residual : float
        Relative residual ||b - M x|| / ||b|| of the bordered system.
    """
    n = permeability.shape[0]
    if scheme == "paper":
        A, rhs = assemble_paper(permeability), source.ravel()
    else:
        A, rhs = assemble_conservative(permeability), (trapezoid_weights(n) * source).ravel()
    M = bordered(A, n)
    b = np.append(rhs, 0.0)
    x = spla.spsolve(M.tocsc(), b)
    residual = float(np.linalg.norm(b - M @ x) / max(np.linalg.norm(b), np.finfo(float).tiny))
    p = x[:-1].reshape(n, n)
    return np.concatenate([p[None], reference_velocity(p, permeability, scheme)]), residual
