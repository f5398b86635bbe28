"""Shared validation and density code of the Gaussian-based distributions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaetk.plugin import ConfigError, check_param

LOG_2PI = math.log(2.0 * math.pi)


def vector(value: Any, name: str, owner: str, *, dim: int | None = None) -> np.ndarray:
    """A 1-D float array, of length ``dim`` when given (a scalar is broadcast to ``dim``)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0 and dim is not None:
        arr = np.full(dim, float(arr))
    check_param(arr.ndim == 1 and arr.size > 0, name, "a non-empty list of numbers", value, owner)
    check_param(
        dim is None or arr.size == dim,
        name,
        f"a list of {dim} numbers (one per dimension of theta)",
        value,
        owner,
    )
    check_param(bool(np.all(np.isfinite(arr))), name, "finite", value, owner)
    return arr


def cholesky_from(std: Any, cov: Any, dim: int, name: str, owner: str) -> np.ndarray:
    """Lower Cholesky factor from a std vector (or scalar) or a covariance matrix; identity when both are
    None."""
    if std is not None and cov is not None:
        raise ConfigError(f"{owner}: give either 'std{name}' or 'cov{name}', not both.")
    if cov is not None:
        mat = np.asarray(cov, dtype=float)
        check_param(
            mat.shape == (dim, dim), f"cov{name}", f"a {dim} x {dim} matrix (list of {dim} rows)", cov, owner
        )
        check_param(bool(np.all(np.isfinite(mat))), f"cov{name}", "finite", cov, owner)
        check_param(
            np.allclose(mat, mat.T, rtol=1e-12, atol=0.0), f"cov{name}", "a symmetric matrix", cov, owner
        )
        try:
            return np.linalg.cholesky(mat)
        except np.linalg.LinAlgError:
            eig = np.linalg.eigvalsh(mat)
            raise ConfigError(
                f"The 'cov{name}' parameter of {owner} must be positive definite; its smallest eigenvalue is "
                f"{eig[0]:.6g}. Got {cov!r} instead."
            ) from None
    if std is None:
        return np.eye(dim)
    sd = vector(std, f"std{name}", owner, dim=dim)
    check_param(
        bool(np.all(sd > 0)), f"std{name}", "> 0 in every dimension (standard deviations)", std, owner
    )
    return np.diag(sd)


def log_normal(x: np.ndarray, mean: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """log N(x; mean, L L^T) for rows of x, through a triangular solve (no explicit inverse)."""
    import scipy.linalg

    z = scipy.linalg.solve_triangular(chol, (x - mean).T, lower=True)
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    return -0.5 * (np.sum(z * z, axis=0) + len(mean) * LOG_2PI + log_det)
