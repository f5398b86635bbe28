"""Karhunen-Loeve expansion of the Gaussian log-permeability field (paper eqs. 18-20).

The covariance ``variance * exp(-|x - x'|_2 / length_scale)`` sampled on the n x n node grid is a stationary
kernel on a regular grid: applying it is a 2-D convolution, done with FFTs in O(n^2 log n) without ever forming
the (n^2 x n^2) matrix. Its leading eigenpairs come from a Lanczos solver (ARPACK via scipy) run separately in
each symmetry sector (see below); small grids use a dense eigensolver.

Eigenvectors are unit-norm discrete vectors (no quadrature weights), as in the authors' code, so
``G = mean + sum_i sqrt(lambda_i) theta_i phi_i`` has pointwise variance close to ``variance`` when many modes
are kept.

The basis convention (why the same basis comes out on every machine and solver)
-------------------------------------------------------------------------------
The kernel is invariant under the symmetries of the square: the reflections x -> 1 - x and y -> 1 - y and the
swap x <-> y. Exactly degenerate eigenvalues (lambda_2 = lambda_3 at n = 65) come from the swap pairing a mode
that is odd in x and even in y with its transpose, which is even in x and odd in y. vaetk fixes the basis by:

1. **Parity**: every mode is even or odd under each reflection. Sectors are ordered ``ee, oe, eo, oo`` (first
   letter: parity in x, second: in y). Within an eigenvalue cluster (relative spread below 1e-8) modes are
   ordered by sector; in a degenerate ``oe``/``eo`` pair the ``oe`` mode (varying along x) comes first and the
   ``eo`` mode is exactly its transpose, and the pair's eigenvalues are set exactly equal.
2. **Sign**: each mode's inner product with the fixed weight ``g(x, y) = (1 + x)(1 + 2 y)`` over the lower-left
   quadrant ``x, y <= 1/2`` is positive (falling back to "the entry of largest magnitude in that quadrant is
   positive" when the product is tiny). An ``eo`` partner takes its sign from its ``oe`` mode (transpose).
3. A residual degeneracy inside one sector (accidental, not seen in practice) is resolved by diagonalising the
   same weight g within the cluster.

:func:`canonicalize` applies this convention to ANY orthonormal eigenbasis, so bases from different eigensolvers
or start vectors agree to solver precision.

Arrays follow vaetk's grid convention: ``[..., row, col]``, row <-> y, col <-> x, node (i, j) at (x = j h, y = i h).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.sparse.linalg

from vaetk._validation import is_int
from vaetk.config import check_param
from vaetk.errors import ConfigError, VaetkWarning

__all__ = ["KLEBasis", "canonicalize", "covariance_matrix", "kle_basis"]

# Bump when the computation or the convention changes: old cache files are then ignored.
_ALGORITHM_VERSION = 1
_SECTORS = ("ee", "oe", "eo", "oo")
_CLUSTER_RTOL = 1e-8
_DENSE_MAX_NODES = 1600  # n <= 40: a dense eigensolver is fast and exact


# -- the covariance operator ----------------------------------------------------------------------------------
def _kernel(n: int, length_scale: float) -> np.ndarray:
    """exp(-h |d| / l) for integer offsets d = (di, dj) in [-(n-1), n-1]^2, laid out for circular convolution."""
    h = 1.0 / (n - 1)
    size = scipy.fft.next_fast_len(2 * n - 1, real=True)
    offsets = np.arange(size)
    offsets = np.where(offsets < n, offsets, offsets - size)  # indices past n wrap to negative offsets
    di, dj = np.meshgrid(offsets, offsets, indexing="ij")
    kernel = np.exp(-h * np.hypot(di, dj) / length_scale)
    kernel[(np.abs(di) >= n) | (np.abs(dj) >= n)] = 0.0  # offsets that never occur on the grid
    return kernel


class _CovarianceOperator:
    """y = C v for (n, n) fields (unit variance), by FFT convolution with the zero-padded kernel."""

    def __init__(self, n: int, length_scale: float) -> None:
        self.n = n
        kernel = _kernel(n, length_scale)
        self.size = kernel.shape[0]
        self.kernel_hat = scipy.fft.rfft2(kernel)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        n, size = self.n, self.size
        v_hat = scipy.fft.rfft2(v.reshape(n, n), s=(size, size))
        return scipy.fft.irfft2(self.kernel_hat * v_hat, s=(size, size))[:n, :n]


def covariance_matrix(n: int, length_scale: float = 0.1, variance: float = 1.0) -> np.ndarray:
    """The dense (n^2 x n^2) covariance matrix, nodes in row-major (row, col) order. For small n and tests only."""
    h = 1.0 / (n - 1)
    rows, cols = np.divmod(np.arange(n * n), n)
    dist = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :]) * h
    return variance * np.exp(-dist / length_scale)


# -- symmetry sectors -----------------------------------------------------------------------------------------
def _project(v: np.ndarray, sector: str) -> np.ndarray:
    """Project fields (..., n, n) onto a parity sector ('oe' = odd in x, even in y)."""
    sx = 1.0 if sector[0] == "e" else -1.0
    sy = 1.0 if sector[1] == "e" else -1.0
    v = 0.5 * (v + sx * v[..., :, ::-1])
    return 0.5 * (v + sy * v[..., ::-1, :])


def _sector_dim(n: int, parity: str) -> int:
    half = n // 2
    return half + (n % 2) if parity == "e" else half


def _sign_weight(n: int) -> np.ndarray:
    """g(x, y) = (1 + x)(1 + 2y) on the lower-left quadrant x, y <= 1/2, zero elsewhere (see module docstring)."""
    coords = np.linspace(0.0, 1.0, n)
    x, y = coords[None, :], coords[:, None]
    quadrant = (x <= 0.5 + 1e-12) & (y <= 0.5 + 1e-12)
    return np.where(quadrant, (1.0 + x) * (1.0 + 2.0 * y), 0.0)


def _fix_sign(mode: np.ndarray, weight: np.ndarray) -> np.ndarray:
    score = float(np.sum(mode * weight))
    if abs(score) < 1e-8 * float(np.sqrt(np.sum(weight**2))):
        quadrant = weight > 0
        values = mode[quadrant]
        score = float(values[np.argmax(np.abs(values))])
    return mode if score >= 0 else -mode


def _clusters(values: np.ndarray) -> list[slice]:
    """Runs of consecutive (descending) eigenvalues whose relative spread is below _CLUSTER_RTOL."""
    out, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[start] - values[i] > _CLUSTER_RTOL * abs(values[start]):
            out.append(slice(start, i))
            start = i
    return out


def canonicalize(values: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply vaetk's basis convention (module docstring) to any orthonormal set of eigenpairs.

    Parameters
    ----------
    values : ndarray of shape (m,)
        Eigenvalues (any order). Every eigenvalue cluster must be complete (all its vectors present).
    modes : ndarray of shape (m, n, n)
        Matching orthonormal eigenvectors as fields.

    Returns
    -------
    values, modes : ndarray of shape (m,), ndarray of shape (m, n, n)
        Sorted descending, sector-pure, sign-fixed; exactly equal values within an ``oe``/``eo`` pair.
    """
    order = np.argsort(-values, kind="stable")
    values, modes = np.asarray(values, float)[order], np.asarray(modes, float)[order]
    n = modes.shape[-1]
    weight = _sign_weight(n)
    out_values, out_modes = [], []
    for cluster in _clusters(values):
        block = modes[cluster]
        picked: dict[str, list[np.ndarray]] = {}
        for sector in _SECTORS:
            projected = _project(block, sector).reshape(len(block), -1)
            u, s, vt = np.linalg.svd(projected, full_matrices=False)
            basis = vt[s > 0.5].reshape(-1, n, n)  # singular values are ~1 in the sector, ~0 outside it
            if len(basis) > 1:  # accidental degeneracy within a sector: diagonalise the weight g
                flat = basis.reshape(len(basis), -1)
                _, rot = np.linalg.eigh(flat @ (weight.ravel()[:, None] * flat.T))
                basis = (rot.T @ flat).reshape(-1, n, n)
            picked[sector] = [_fix_sign(m, weight) for m in basis]
        if len(picked["oe"]) == len(picked["eo"]) and picked["oe"]:
            picked["eo"] = [m.T.copy() for m in picked["oe"]]  # exact partners under the swap x <-> y
        cluster_modes = [m for sector in _SECTORS for m in picked[sector]]
        if len(cluster_modes) != len(block):
            raise RuntimeError(
                f"KLE canonicalisation found {len(cluster_modes)} sector-pure modes for an eigenvalue cluster of "
                f"size {len(block)} near {values[cluster.start]:.6g}; the eigenvectors are not accurate enough."
            )
        mean_value = float(np.mean(values[cluster]))
        out_values += [mean_value] * len(block)
        out_modes += cluster_modes
    return np.asarray(out_values), np.asarray(out_modes)


# -- eigensolvers ---------------------------------------------------------------------------------------------
def _dense_eigenpairs(n: int, length_scale: float, n_wanted: int) -> tuple[np.ndarray, np.ndarray]:
    cov = covariance_matrix(n, length_scale)
    values, vectors = scipy.linalg.eigh(cov, subset_by_index=(n * n - n_wanted, n * n - 1))
    return values, vectors.T.reshape(-1, n, n)


def _sector_eigenpairs(op: _CovarianceOperator, sector: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = op.n
    dim = _sector_dim(n, sector[0]) * _sector_dim(n, sector[1])
    k = min(k, dim)
    if k >= dim - 1 or dim <= 64:  # ARPACK needs k < dim - 1; tiny sectors are cheaper densely anyway
        basis = _project(np.eye(n * n).reshape(-1, n, n), sector).reshape(n * n, -1)
        q, r = np.linalg.qr(basis[:, np.abs(basis).sum(0) > 0])
        q = q[:, np.abs(np.diag(r)) > 1e-12]
        applied = np.stack([op(col) .ravel() for col in q.T], axis=1)
        values, vecs = np.linalg.eigh(q.T @ applied)
        values, vecs = values[::-1][:k], (q @ vecs[:, ::-1][:, :k]).T
        return values, vecs.reshape(-1, n, n)

    def matvec(v: np.ndarray) -> np.ndarray:
        return _project(op(_project(v.reshape(n, n), sector)), sector).ravel()

    linop = scipy.sparse.linalg.LinearOperator((n * n, n * n), matvec=matvec, dtype=float)
    v0 = _project(np.ones((n, n)) + _sign_weight(n), sector).ravel()  # deterministic start vector
    values, vecs = scipy.sparse.linalg.eigsh(linop, k=k, which="LA", v0=v0 / np.linalg.norm(v0), tol=1e-13)
    order = np.argsort(-values)
    return values[order], vecs[:, order].T.reshape(-1, n, n)


def _lanczos_eigenpairs(n: int, length_scale: float, n_modes: int) -> tuple[np.ndarray, np.ndarray]:
    """Leading eigenpairs from the ee, oe and oo sectors (eo is oe transposed), enough to cover n_modes."""
    op = _CovarianceOperator(n, length_scale)
    k = {s: math.ceil(n_modes / 4) + 6 for s in ("ee", "oe", "oo")}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    while True:
        for sector in k:
            if sector not in found or len(found[sector][0]) < k[sector]:
                found[sector] = _sector_eigenpairs(op, sector, k[sector])
        values = np.concatenate([found["ee"][0], found["oe"][0], found["oe"][0], found["oo"][0]])
        threshold = np.sort(values)[::-1][min(n_modes, len(values)) - 1]
        # Every sector must reach strictly below the n_modes-th value, so clusters at the cut are complete.
        short = [s for s in k if found[s][0][-1] >= threshold * (1 - 1e-6)
                 and len(found[s][0]) < _sector_dim(n, s[0]) * _sector_dim(n, s[1])]
        if not short:
            break
        for sector in short:
            k[sector] *= 2
    eo = (found["oe"][0], np.swapaxes(found["oe"][1], -1, -2))
    all_values = np.concatenate([found["ee"][0], found["oe"][0], eo[0], found["oo"][0]])
    all_modes = np.concatenate([found["ee"][1], found["oe"][1], eo[1], found["oo"][1]])
    keep = all_values >= threshold * (1 - 1e-6)
    return all_values[keep], all_modes[keep]


# -- the basis ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class KLEBasis:
    """A truncated KLE basis of the log-permeability on an n x n node grid.

    Attributes
    ----------
    n : int
        Nodes per side.
    length_scale, variance, mean : float
        Covariance ``variance * exp(-|x - x'| / length_scale)`` and mean of the log-permeability G.
    eigenvalues : ndarray of shape (n_modes,)
        Discrete eigenvalues of the covariance matrix, descending.
    modes : ndarray of shape (n_modes, n, n)
        Unit-norm eigenvectors as fields, in vaetk's convention (module docstring).
    """

    n: int
    length_scale: float
    variance: float
    mean: float
    eigenvalues: np.ndarray = field(repr=False)
    modes: np.ndarray = field(repr=False)

    @property
    def n_modes(self) -> int:
        return len(self.eigenvalues)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters that define this basis (for provenance records)."""
        return {"n": self.n, "length_scale": self.length_scale, "variance": self.variance, "mean": self.mean,
                "n_modes": self.n_modes, "algorithm_version": _ALGORITHM_VERSION}

    def _check_theta(self, theta: Any) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        if theta.ndim != 2 or theta.shape[1] != self.n_modes:
            raise ConfigError(
                f"theta must have shape (N, {self.n_modes}) for this {self.n_modes}-mode KLE basis; got shape "
                f"{theta.shape}. Pass one row of {self.n_modes} coefficients per sample."
            )
        if not np.all(np.isfinite(theta)):
            row = int(np.argwhere(~np.isfinite(theta))[0, 0])
            raise ConfigError(f"theta contains NaN or infinite values (first in row {row}: {theta[row]!r}).")
        return theta

    def log_permeability(self, theta: Any) -> np.ndarray:
        """G = mean + sum_i sqrt(lambda_i) theta_i phi_i (eq. 20).

        Parameters
        ----------
        theta : array_like of shape (N, n_modes)
            KLE coefficients, one row per sample.

        Returns
        -------
        ndarray of shape (N, n, n), float64
        """
        theta = self._check_theta(theta)
        scaled = theta * np.sqrt(self.eigenvalues)
        return self.mean + np.tensordot(scaled, self.modes, axes=(1, 0))

    def permeability(self, theta: Any) -> np.ndarray:
        """K = exp(G) (eq. 18) for theta of shape (N, n_modes); returns (N, n, n) float64."""
        return np.exp(self.log_permeability(theta))


def _cache_dir(cache: bool | str | os.PathLike[str]) -> Path | None:
    if cache is False:
        return None
    if cache is not True:
        return Path(cache)
    env = os.environ.get("VAETK_CACHE_DIR")
    if env is not None:
        return Path(env) / "kle" if env else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vaetk" / "kle"


def _cache_path(directory: Path, n: int, length_scale: float) -> Path:
    key = json.dumps({"n": n, "length_scale": float(length_scale).hex(), "v": _ALGORITHM_VERSION})
    return directory / f"kle_n{n}_{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


class KLECacheWarning(VaetkWarning):
    """A cached KLE basis failed verification (checksum or eigen-residual) and was recomputed."""


def _pairs_sha256(values: np.ndarray, modes: np.ndarray) -> str:
    h = hashlib.sha256()
    for arr in (np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(modes, dtype=np.float64)):
        h.update(str(arr.shape).encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


# Relative residual |C phi - lambda phi| / lambda that a cached eigenpair must meet: both solvers reach ~1e-12;
# any edit that changes a mode or a value visibly (a flipped bit in a leading digit, a swapped mode) gives far more.
_RESIDUAL_TOL = 1e-7


def _residual_problem(n: int, length_scale: float, values: np.ndarray, modes: np.ndarray) -> str | None:
    """Check eigenpairs against the covariance operator (unit variance): unit norm, positive eigenvalue, small
    relative residual. Batched FFT convolutions: ~1 ms per 10 modes at n = 65, so every requested mode is checked."""
    op = _CovarianceOperator(n, length_scale)
    values = np.asarray(values, dtype=np.float64)
    norms = np.linalg.norm(modes.reshape(len(modes), -1), axis=1)
    bad = np.flatnonzero(~((values > 0) & np.isfinite(values) & (np.abs(norms - 1.0) < 1e-8)))
    if bad.size:
        return f"eigenpair {int(bad[0])} is not a unit-norm mode with a positive eigenvalue"
    for first in range(0, len(values), 64):
        block, lam = modes[first:first + 64], values[first:first + 64]
        v_hat = scipy.fft.rfft2(block, s=(op.size, op.size), axes=(-2, -1))
        applied = scipy.fft.irfft2(op.kernel_hat * v_hat, s=(op.size, op.size), axes=(-2, -1))[:, :n, :n]
        residual = np.linalg.norm((applied - lam[:, None, None] * block).reshape(len(block), -1), axis=1) / lam
        worst = int(np.argmax(residual))
        if not residual[worst] < _RESIDUAL_TOL:
            return (f"eigenpair {first + worst} has relative residual {residual[worst]:.3g} against the covariance "
                    f"(tolerance {_RESIDUAL_TOL:g})")
    return None


def _load_cached(path: Path, n: int, length_scale: float, n_modes: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached leading ``n_modes`` eigenpairs, or None (recompute): missing, unreadable, older or smaller files
    quietly; a file that fails its checksum or the residual check of a few eigenpairs with a KLECacheWarning."""
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as data:
            ok = (int(data["version"]) == _ALGORITHM_VERSION and int(data["n"]) == n
                  and float(data["length_scale"]) == length_scale and len(data["values"]) >= n_modes
                  and "sha256" in data.files)
            if not ok:
                return None
            values, modes, recorded = data["values"].copy(), data["modes"].copy(), str(data["sha256"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # missing/truncated/foreign: recompute
        return None
    if modes.shape != (len(values), n, n):
        problem: str | None = f"its modes have shape {modes.shape}, expected ({len(values)}, {n}, {n})"
    elif _pairs_sha256(values, modes) != recorded:
        problem = "its eigenpairs do not match the SHA-256 recorded when it was written"
    else:
        problem = _residual_problem(n, length_scale, values[:n_modes], modes[:n_modes])
    if problem is not None:
        import warnings

        warnings.warn(f"The cached KLE basis {str(path)!r} failed verification ({problem}): it was modified or "
                      "damaged, and would change every dataset built on this grid. It is ignored, recomputed and "
                      "replaced.", KLECacheWarning, stacklevel=3)
        return None
    return values[:n_modes], modes[:n_modes]


def _store_cached(path: Path, n: int, length_scale: float, values: np.ndarray, modes: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, version=_ALGORITHM_VERSION, n=n, length_scale=length_scale, values=values, modes=modes,
                     sha256=_pairs_sha256(values, modes))
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    except OSError:
        pass  # a read-only or full cache directory must not break the computation


def kle_basis(
    n: int,
    *,
    length_scale: float = 0.1,
    variance: float = 1.0,
    mean: float = 0.0,
    n_modes: int,
    method: str = "auto",
    cache: bool | str | os.PathLike[str] = True,
) -> KLEBasis:
    """Leading KLE modes of ``variance * exp(-|x - x'|_2 / length_scale)`` on the n x n node grid of [0, 1]^2.

    Parameters
    ----------
    n : int
        Nodes per side (>= 3); h = 1 / (n - 1).
    length_scale, variance : float
        Correlation length l and variance of the log-permeability (paper: l = 0.1, variance 1).
    mean : float
        Mean of the log-permeability (paper: 0).
    n_modes : int
        Number of modes s to keep (KLE2: 2), at most n^2.
    method : {"auto", "lanczos", "dense"}
        ``"lanczos"``: FFT matrix-vector products and ARPACK per symmetry sector (no dense matrix);
        ``"dense"``: dense eigensolver (n^2 x n^2 matrix, small n only); ``"auto"``: dense for n <= 40.
    cache : bool or path
        Cache the eigenpairs on disk by (n, length_scale, algorithm version): ``True`` uses
        ``$VAETK_CACHE_DIR/kle`` (set it empty to disable) or ``~/.cache/vaetk/kle``; a path uses that folder.
        A cached file is verified before use (the SHA-256 recorded with it, and the residual of a few eigenpairs
        against the covariance operator); one that fails is recomputed and replaced, with a KLECacheWarning.

    Returns
    -------
    KLEBasis
        With eigenvalues scaled by ``variance``; modes follow the convention of this module's docstring.

    Examples
    --------
    >>> basis = kle_basis(65, n_modes=3, cache=False)
    >>> [round(v, 2) for v in basis.eigenvalues]
    [214.54, 167.97, 167.97]
    >>> basis.permeability([[0.5, -1.0, 2.0]]).shape
    (1, 65, 65)
    """
    owner = "kle_basis()"
    check_param(is_int(n, 3), "n", "an int >= 3", n, owner)
    for name, value in (("length_scale", length_scale), ("variance", variance)):
        check_param(isinstance(value, (int, float)) and math.isfinite(value) and value > 0, name,
                    "a finite number > 0", value, owner)
    check_param(isinstance(mean, (int, float)) and math.isfinite(mean), "mean", "a finite number", mean, owner)
    check_param(is_int(n_modes, 1) and n_modes <= n * n, "n_modes",
                f"an int in the range [1, n^2 = {n * n}] (the grid has n^2 nodes)", n_modes, owner)
    check_param(method in ("auto", "lanczos", "dense"), "method", "one of 'auto', 'lanczos', 'dense'", method,
                owner)
    length_scale = float(length_scale)

    directory = _cache_dir(cache)
    path = _cache_path(directory, n, length_scale) if directory is not None else None
    cached = _load_cached(path, n, length_scale, n_modes) if path is not None else None
    if cached is not None:
        values, modes = cached
    else:
        dense = method == "dense" or (method == "auto" and n * n <= _DENSE_MAX_NODES)
        if dense:
            # Compute a few extra pairs so a degenerate cluster at the cut is complete.
            wanted = min(n * n, n_modes + 8)
            values, modes = _dense_eigenpairs(n, length_scale, wanted)
            if wanted < n * n:  # drop the lowest (possibly incomplete) cluster
                low = values.min()
                keep = values > low + _CLUSTER_RTOL * abs(low)
                values, modes = values[keep], modes[keep]
        else:
            values, modes = _lanczos_eigenpairs(n, length_scale, n_modes)
        values, modes = canonicalize(values, modes)
        if path is not None:
            _store_cached(path, n, length_scale, values, modes)
        values, modes = values[:n_modes], modes[:n_modes]
    return KLEBasis(n=n, length_scale=length_scale, variance=float(variance), mean=float(mean),
                    eigenvalues=values * float(variance), modes=np.ascontiguousarray(modes))
