"""k-nearest-neighbour distances and the Wang-Kulkarni-Verdu (2009) k-NN estimators of D(P || Q).

Backends give the same numbers (to rounding) and differ in speed:

- ``"native"``: vaetk's C++ core (a uniform grid for d <= 3, a k-d tree, or blocked brute force; double
  precision, OpenMP over queries, results independent of the thread count).
- ``"scipy"``: ``scipy.spatial.cKDTree`` (double precision).
- ``"faiss"``: ``faiss.IndexFlatL2`` (faiss-cpu). faiss computes float32 distances, which for close points can
  be 0 or out of order; vaetk over-fetches candidates, recomputes their distances in double precision, and
  accepts a query only when the float32 distance of the last candidate exceeds the needed radius by more than a
  float32 error bound (otherwise it fetches twice as many candidates, up to all points). The result is exact.

Duplicates: a neighbour that coincides with the query counts at distance 0 (a query's own row is excluded by
index in within-sample searches). The estimators need log distances, so when a needed distance is exactly 0
(a point with k or more exact copies) :func:`knn_kl_divergence` raises DataError naming the rows, never
returning log(0).

Scale: :func:`knn_distances` and :func:`knn_kl_divergence` first multiply the data by the power of two that
brings the largest |value| into [0.5, 1) (exact), so squared distances neither overflow (data around 1e154) nor
become subnormal (around 1e-160): the estimate for ``s * x, s * y`` is that for ``x, y`` for every representable
``s`` (bit for bit when ``s`` is a power of two). Distances the doubles cannot resolve at the data's own
magnitude (below ~1e-150 of the largest |value|) are a DataError that says so.

For estimators evaluated many times on prepared arrays (inside an optimisation, as the S_KL metric does),
:func:`wkv_terms` returns the per-sample terms without the input checks and :class:`WkvFixedX` keeps what depends
on the fixed sample of P between evaluations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vaetk._validation import did_you_mean, is_int
from vaetk.errors import ConfigError, DataError
from vaetk.metrics._validation import as_samples

__all__ = ["KLTerms", "WkvFixedX", "knn_distances", "knn_kl_divergence", "wkv_terms"]

BACKENDS = ("native", "scipy", "faiss")
ESTIMATORS = ("wkv", "wkv_eps1")
_ALGORITHMS = {"auto": 0, "kdtree": 1, "brute": 2, "grid": 3}


@dataclass(frozen=True)
class KLTerms:
    """Per-sample quantities behind a WKV estimate (all arrays of shape (n,)).

    ``terms[i] = d * log(nu[i] / rho[i]) + digamma(l[i]) - digamma(k[i])``; the estimate is
    ``terms.mean() + log(m / (n - 1))``. For the fixed-k estimator ``l == k == k`` and the digamma terms cancel.
    """

    rho: np.ndarray
    nu: np.ndarray
    l: np.ndarray  # noqa: E741 - the paper's name
    k: np.ndarray
    terms: np.ndarray
    offset: float


def _choice(value: Any, options: tuple[str, ...], what: str) -> str:
    if isinstance(value, str) and value in options:
        return value
    hint = did_you_mean(value, options, cutoff=0.5)
    raise ConfigError(f"Unknown {what} {value!r}.{hint} Valid: {', '.join(options)}.")


def _check_k(k: Any) -> int:
    if not is_int(k, 1, allow_numpy=True):
        raise ConfigError(f"k: expected a positive integer, got {k!r}.")
    return int(k)


def _n_threads(n_threads: int | None) -> int:
    from vaetk._threads import effective_n_threads

    return effective_n_threads(n_threads)


# -- scale: distances are computed from squared distances, which overflow above ~1e154 and lose precision
# (subnormal) below ~1e-154; every estimate here is scale-invariant, so the data are brought to unit magnitude
# by a power of two first (exact in floating point: the result for 2**j * x is bit for bit the one for x).
_TINY_DISTANCE = 2.0 ** -500  # below this (relative to the largest |value|) a squared distance nears subnormal


def _unit_scale(*arrays: np.ndarray) -> int:
    """The exponent e such that ``ldexp(a, -e)`` has its largest absolute value in [0.5, 1) (0 for all-zero data)."""
    top = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in arrays)
    return int(np.frexp(top)[1]) if top > 0.0 else 0


def _rescaled(a: np.ndarray, e: int) -> np.ndarray:
    return a if e == 0 else np.ldexp(a, -e)


def _resolution_error(what: str, tiny: float, e: int) -> DataError:
    smallest = ("is 0 although the points differ" if tiny == 0.0
                else f"is {tiny:.3g} times the largest |value|")
    return DataError(
        f"{what}: distinct points are closer than double precision can resolve at the magnitude of the data: "
        f"the smallest needed k-NN distance {smallest} (the largest |value| is about 2**{e}), and distances "
        "below about 1e-150 times it have subnormal or zero squares, so the estimate would be biased or undefined. "
        "The estimator does not depend on the overall scale of the data; what breaks is the ratio between the "
        "spread of the neighbourhoods and the largest coordinate: centre the data (subtract a common offset) or "
        "drop the far-away points that set the magnitude."
    )


# -- backends: (n_query, k) distances ----------------------------------------------------------------------------
def _native_knn(ref: np.ndarray, query: np.ndarray | None, k: int, n_threads: int, algorithm: str) -> np.ndarray:
    from vaetk._build import core

    q = ref if query is None else query
    out = np.empty((q.shape[0], k))
    core().knn_distances(ref, q, k, query is None, _ALGORITHMS[algorithm], n_threads, out)
    return out


def _drop_self(dist: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Remove each row's own index from (len(rows), K+1) neighbour lists (the last entry if it is absent)."""
    keep = idx != rows[:, None]
    keep[keep.all(axis=1), -1] = False
    return dist[keep].reshape(dist.shape[0], dist.shape[1] - 1)


def _scipy_knn(ref: np.ndarray, query: np.ndarray | None, k: int, n_threads: int,
               tree: Any = None) -> np.ndarray:
    from scipy.spatial import cKDTree

    tree = cKDTree(ref) if tree is None else tree
    if query is not None:
        d, _ = tree.query(query, k=k, workers=n_threads)
        return d.reshape(query.shape[0], k)
    d, i = tree.query(ref, k=k + 1, workers=n_threads)
    return _drop_self(d.reshape(-1, k + 1), i.reshape(-1, k + 1), np.arange(ref.shape[0]))


class _FaissExact:
    """Exact double-precision neighbours from faiss float32 candidates (see the module docstring)."""

    def __init__(self, ref: np.ndarray, n_threads: int) -> None:
        import faiss

        self.faiss = faiss
        self.centre = ref.mean(axis=0)
        self.ref = ref
        self.n_threads = n_threads
        r32 = np.ascontiguousarray(ref - self.centre, dtype=np.float32)
        self.index = faiss.IndexFlatL2(ref.shape[1])
        self.index.add(r32)
        self.ref_norm2 = float(np.max(np.sum((ref - self.centre) ** 2, axis=1)))

    def candidates(self, query: np.ndarray, rows: np.ndarray | None, need: int, radius2: Any) -> np.ndarray:
        """Exact squared distances, ascending, of at least the ``need`` nearest (and all within ``radius2``).

        Returns an (nq, K) array (K >= need, padded with inf) whose entries certainly include every reference
        point nearer than max(need-th distance, sqrt(radius2)); ``rows`` excludes each query's own row.
        """
        n_ref, d = self.ref.shape
        qc = query - self.centre
        q32 = np.ascontiguousarray(qc, dtype=np.float32)
        # float32 error of |q - r|^2 computed as |q|^2 + |r|^2 - 2 q.r, with input rounding, generously bounded
        tol = 16.0 * (d + 4) * np.finfo(np.float32).eps * (np.sum(qc**2, axis=1) + self.ref_norm2)
        extra = 0 if rows is None else 1
        kk = min(n_ref, max(2 * (need + extra), need + extra + 16))
        out = np.full((query.shape[0], n_ref), np.inf)
        width = 0
        todo = np.arange(query.shape[0])
        saved = self.faiss.omp_get_max_threads()
        self.faiss.omp_set_num_threads(self.n_threads)
        try:
            while todo.size:
                d32, idx = self.index.search(q32[todo], kk)
                exact = np.sum((self.ref[idx] - query[todo][:, None, :]) ** 2, axis=2)
                if rows is not None:
                    exact[idx == rows[todo][:, None]] = np.inf
                exact.sort(axis=1)
                bound = np.maximum(exact[:, need - 1], radius2[todo] if radius2 is not None else 0.0)
                done = (kk == n_ref) | (d32[:, -1].astype(np.float64) - tol[todo] > bound + tol[todo])
                out[todo[done], :kk] = exact[done]
                width = max(width, kk)
                todo = todo[~done]
                kk = min(n_ref, 2 * kk)
        finally:
            self.faiss.omp_set_num_threads(saved)
        return out[:, :width]


def _faiss_knn(ref: np.ndarray, query: np.ndarray | None, k: int, n_threads: int) -> np.ndarray:
    index = _FaissExact(ref, n_threads)
    rows = None if query is not None else np.arange(ref.shape[0])
    q = ref if query is None else query
    return np.sqrt(index.candidates(q, rows, k, None)[:, :k])


def knn_distances(ref: Any, query: Any = None, *, k: int = 5, backend: str = "native",
                  n_threads: int | None = None, algorithm: Literal["auto", "kdtree", "brute", "grid"] = "auto"
                  ) -> np.ndarray:
    """Euclidean distances from each query to its 1st..k-th nearest reference points, in double precision.

    Parameters
    ----------
    ref : array_like, shape (m, d)
        Reference points.
    query : array_like, shape (n, d), optional
        Query points. Omitted: the queries are ``ref`` itself and each excludes its own row (by index).
    k : int
        Number of neighbours.
    backend : {"native", "scipy", "faiss"}
    n_threads : int, optional
        Threads (None: all CPUs or ``OMP_NUM_THREADS``). Results do not depend on it.
    algorithm : {"auto", "kdtree", "brute", "grid"}
        Native backend's search structure (the same distances either way).

    Returns
    -------
    ndarray, shape (n, k)
        Row i ascending.
    """
    backend = _choice(backend, BACKENDS, "backend")
    algorithm = _choice(algorithm, tuple(_ALGORITHMS), "algorithm")  # type: ignore[assignment]
    k = _check_k(k)
    r = as_samples(ref, "ref")
    q = None if query is None else as_samples(query, "query")
    if q is not None and q.shape[1] != r.shape[1]:
        raise DataError(f"query has {q.shape[1]} dimensions but ref has {r.shape[1]}.")
    available = r.shape[0] - (1 if q is None else 0)
    if k > available:
        raise DataError(f"k = {k} neighbours requested but only {available} reference points are available "
                        f"({'excluding the query itself' if q is None else 'in ref'}).")
    threads = _n_threads(n_threads)
    e = _unit_scale(r) if q is None else _unit_scale(r, q)
    r = _rescaled(r, e)
    q = None if q is None else _rescaled(q, e)
    if backend == "native":
        out = _native_knn(r, q, k, threads, algorithm)
    elif backend == "scipy":
        out = _scipy_knn(r, q, k, threads)
    else:
        out = _faiss_knn(r, q, k, threads)
    return out if e == 0 else np.ldexp(out, e)


# -- the estimator -----------------------------------------------------------------------------------------------
def _terms_native(x: np.ndarray, y: np.ndarray, k: int, eps1: bool, threads: int, algorithm: str,
                  out: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, ...]:
    from vaetk._build import core

    n = x.shape[0]
    if out is None:
        out = (np.empty(n), np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    rho, nu, li, ki = out
    core().wkv_terms(x, y, k, eps1, _ALGORITHMS[algorithm], threads, rho, nu, li, ki)
    return rho, nu, li, ki


def _terms_scipy(x: np.ndarray, y: np.ndarray, k: int, eps1: bool, threads: int) -> tuple[np.ndarray, ...]:
    from scipy.spatial import cKDTree

    n = x.shape[0]
    tx, ty = cKDTree(x), cKDTree(y)
    rho = _scipy_knn(x, None, k, threads, tree=tx)[:, -1]
    nu = _scipy_knn(y, x, k, threads, tree=ty)[:, -1]
    if not eps1:
        kk = np.full(n, k, dtype=np.int64)
        return rho, nu, kk, kk.copy()
    # inclusive balls of radius eps; the tiny widening only absorbs rounding differences between cKDTree's
    # query and ball routines (the ball's defining point must count)
    eps = np.maximum(rho, nu) * (1.0 + 1e-12)
    li = tx.query_ball_point(x, eps, return_length=True, workers=threads).astype(np.int64) - 1
    ki = ty.query_ball_point(x, eps, return_length=True, workers=threads).astype(np.int64)
    rho_l, nu_k = np.empty(n), np.empty(n)
    for value in np.unique(li):
        rows = np.flatnonzero(li == value)
        d, i = tx.query(x[rows], k=int(value) + 1, workers=threads)
        rho_l[rows] = _drop_self(d.reshape(len(rows), -1), i.reshape(len(rows), -1), rows)[:, -1]
    for value in np.unique(ki):
        rows = np.flatnonzero(ki == value)
        d, _ = ty.query(x[rows], k=int(value), workers=threads)
        nu_k[rows] = d.reshape(len(rows), -1)[:, -1]
    return rho_l, nu_k, li, ki


def _terms_faiss(x: np.ndarray, y: np.ndarray, k: int, eps1: bool, threads: int) -> tuple[np.ndarray, ...]:
    n = x.shape[0]
    fx, fy = _FaissExact(x, threads), _FaissExact(y, threads)
    rows = np.arange(n)
    rho2 = fx.candidates(x, rows, k, None)[:, k - 1]
    nu2 = fy.candidates(x, None, k, None)[:, k - 1]
    if not eps1:
        kk = np.full(n, k, dtype=np.int64)
        return np.sqrt(rho2), np.sqrt(nu2), kk, kk.copy()
    eps2 = np.maximum(rho2, nu2)
    cx = fx.candidates(x, rows, k, eps2)
    cy = fy.candidates(x, None, k, eps2)
    inside_x, inside_y = cx <= eps2[:, None], cy <= eps2[:, None]
    li, ki = inside_x.sum(axis=1), inside_y.sum(axis=1)
    rho = np.sqrt(np.where(inside_x, cx, 0.0).max(axis=1))
    nu = np.sqrt(np.where(inside_y, cy, 0.0).max(axis=1))
    return rho, nu, li.astype(np.int64), ki.astype(np.int64)


def wkv_terms(x: np.ndarray, y: np.ndarray, *, k: int = 5, estimator: Literal["wkv", "wkv_eps1"] = "wkv",
              backend: Literal["native", "scipy", "faiss"] = "native", n_threads: int | None = None,
              algorithm: Literal["auto", "kdtree", "brute", "grid"] = "auto",
              out: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample quantities of the WKV estimate of D(P || Q), for callers that evaluate it many times.

    The building block of :func:`knn_kl_divergence` without its input checks, its reduction and its diagnosis
    of duplicates. With ``rho, nu, l, kk = wkv_terms(x, y, ...)`` the estimate is
    ``d * mean(log(nu / rho)) + mean(digamma(l) - digamma(kk)) + log(m / (n - 1))`` (for ``"wkv"``,
    ``l == kk == k`` and the digamma terms cancel); a zero in ``rho`` or ``nu`` means the estimate is undefined.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        Samples of P: C-contiguous, float64, finite, n >= k + 1 (not checked).
    y : ndarray of shape (m, d)
        Samples of Q: C-contiguous, float64, finite, m >= k (not checked).
    k : int
        Neighbour order.
    estimator : {"wkv", "wkv_eps1"}
        Fixed-k estimator or the adaptive "epsilon 1" version.
    backend : {"native", "scipy", "faiss"}
        See the module docstring; all give the same values to rounding.
    n_threads : int, optional
        Threads (None: all CPUs or ``OMP_NUM_THREADS``); the values do not depend on it.
    algorithm : {"auto", "kdtree", "brute", "grid"}
        Native backend's search structure.
    out : tuple of four ndarrays, optional
        Buffers of shape (n,) (float64, float64, int64, int64) that receive ``rho, nu, l, kk`` and are returned,
        so that repeated calls need not allocate.

    Returns
    -------
    rho : ndarray of shape (n,)
        Distance of each x_i to its l_i-th nearest neighbour among the other rows of x.
    nu : ndarray of shape (n,)
        Distance of each x_i to its kk_i-th nearest neighbour in y.
    l, kk : ndarray of shape (n,), int64
        The neighbour orders (both ``k`` for ``"wkv"``).

    Raises
    ------
    ConfigError
        Unknown estimator, backend or algorithm, k not a positive integer, n_threads == 0.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((500, 2)), rng.standard_normal((400, 2))
    >>> rho, nu, l, kk = wkv_terms(x, y, k=5)
    >>> value = 2 * np.mean(np.log(nu / rho)) + np.log(400 / 499)
    >>> bool(np.isclose(value, knn_kl_divergence(x, y, k=5)))
    True
    """
    estimator = _choice(estimator, ESTIMATORS, "estimator")  # type: ignore[assignment]
    backend = _choice(backend, BACKENDS, "backend")  # type: ignore[assignment]
    algorithm = _choice(algorithm, tuple(_ALGORITHMS), "algorithm")  # type: ignore[assignment]
    k = _check_k(k)
    threads = _n_threads(n_threads)
    eps1 = estimator == "wkv_eps1"
    if backend == "native":
        return _terms_native(x, y, k, eps1, threads, algorithm, out)  # type: ignore[return-value]
    terms = _terms_scipy(x, y, k, eps1, threads) if backend == "scipy" else _terms_faiss(x, y, k, eps1, threads)
    if out is None:
        return terms  # type: ignore[return-value]
    for buffer, value in zip(out, terms, strict=True):
        np.copyto(buffer, value)
    return out


class WkvFixedX:
    """WKV estimate of D(P || Q) for one fixed sample x of P and many samples y = scale * z + shift of Q (C++).

    Made for an optimisation over an affine map of the samples of Q (as in the S_KL metric): everything that
    depends on x alone (its search structure, rho_k and, for ``"wkv_eps1"``, its sorted neighbour distances) is
    computed once, and each :meth:`evaluate` builds y's structure and runs one k-NN query per row of x. Values
    equal ``knn_kl_divergence(x, scale * z + shift, k=k, estimator=estimator)`` up to summation order.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        Samples of P: C-contiguous, float64, finite (not checked), n >= 2.
    k : int
        Neighbour order, in [1, n - 1].
    estimator : {"wkv", "wkv_eps1"}
        Fixed-k estimator or the adaptive "epsilon 1" version.

    Raises
    ------
    ConfigError
        Unknown estimator or k not a positive integer.
    """

    def __init__(self, x: np.ndarray, *, k: int = 5, estimator: Literal["wkv", "wkv_eps1"] = "wkv") -> None:
        from vaetk._build import core

        estimator = _choice(estimator, ESTIMATORS, "estimator")  # type: ignore[assignment]
        self.k = _check_k(k)
        self.estimator = estimator
        self.n, self.d = x.shape
        self._fixed = core().WkvFixedX(x, self.k, estimator == "wkv_eps1")

    def evaluate(self, z: np.ndarray, scale: np.ndarray, shift: np.ndarray, *, n_threads: int | None = None
                 ) -> float:
        """The estimate of D(P || Q) for y = scale * z + shift (per column).

        Parameters
        ----------
        z : ndarray of shape (m, d)
            C-contiguous float64, m >= k.
        scale, shift : ndarray of shape (d,)
            Contiguous float64.
        n_threads : int, optional
            Threads over the rows of x (None: all CPUs or ``OMP_NUM_THREADS``); the value does not depend on it.

        Returns
        -------
        float
            The estimate in nats, or +inf when a needed k-NN distance is exactly 0.
        """
        return float(self._fixed.evaluate(z, scale, shift, _n_threads(n_threads)))


def _duplicate_error(x: np.ndarray, y: np.ndarray, rho: np.ndarray, nu: np.ndarray, k: int,
                     e: int = 0) -> DataError:
    def same_rows(points: np.ndarray, row: int, skip: int | None) -> np.ndarray:
        same = np.flatnonzero(np.all(points == x[row], axis=1))
        return same[same != skip] if skip is not None else same

    def listed(same: np.ndarray) -> str:
        return ", ".join(str(s) for s in same[:8]) + (", ..." if same.size > 8 else "")

    bad_rho, bad_nu = np.flatnonzero(rho == 0.0), np.flatnonzero(nu == 0.0)
    if bad_rho.size:
        r = int(bad_rho[0])
        same = same_rows(x, r, r)
        what = f"x row {r} has at least k = {k} exact copies among the other rows of x (rows {listed(same)})"
        count = bad_rho.size
    else:
        r = int(bad_nu[0])
        same = same_rows(y, r, None)
        what = f"x row {r} coincides with at least k = {k} rows of y (rows {listed(same)})"
        count = bad_nu.size
    if same.size < k:  # not copies: distinct points whose distance is not representable at the data's magnitude
        return _resolution_error("knn_kl_divergence", 0.0, e)
    return DataError(
        f"knn_kl_divergence: {what}, so a needed k-NN distance is exactly 0 and its log is undefined "
        f"({count} such row(s) in all). k-NN estimators assume continuous distributions: remove exact "
        "duplicates, add jitter below your data's resolution, or use a larger k."
    )


def knn_kl_divergence(x: Any, y: Any, *, k: int = 5, estimator: str = "wkv", backend: str = "native",
                      n_threads: int | None = None, return_terms: bool = False,
                      algorithm: Literal["auto", "kdtree", "brute", "grid"] = "auto") -> float | tuple[float, KLTerms]:
    """Estimate D(P || Q) from samples x ~ P and y ~ Q with the WKV (2009) k-NN estimators.

    ``estimator="wkv"`` (fixed k)::

        D = (d / n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1))

    with rho_k(i) the distance from x_i to its k-th nearest neighbour among the other x, and nu_k(i) to its k-th
    nearest neighbour in y. ``estimator="wkv_eps1"`` (the adaptive, bias-reduced "epsilon 1" version the paper
    uses): eps(i) = max(rho_k(i), nu_k(i)); l_i and k_i count the other x and the y within eps(i) (inclusive);
    then::

        D = (d / n) sum_i log(nu_{k_i}(i) / rho_{l_i}(i)) + (1 / n) sum_i [psi(l_i) - psi(k_i)] + log(m / (n - 1))

    Parameters
    ----------
    x : array_like, shape (n, d)
        Samples of P; needs n >= k + 1.
    y : array_like, shape (m, d)
        Samples of Q; needs m >= k.
    k : int
        Neighbour order (5 by default; larger k: lower variance, more bias).
    estimator : {"wkv", "wkv_eps1"}
    backend : {"native", "scipy", "faiss"}
        See the module docstring; all give the same estimate to rounding.
    n_threads : int, optional
        Threads (None: all CPUs or ``OMP_NUM_THREADS``); the result does not depend on it.
    return_terms : bool
        Also return the per-sample :class:`KLTerms`.
    algorithm : {"auto", "kdtree", "brute", "grid"}
        Native backend's search structure.

    Returns
    -------
    float or (float, KLTerms)

    Raises
    ------
    DataError
        Non-finite values, empty or non-2-D arrays, different dimensions, too few samples for k, a needed
        distance of exactly 0 (duplicates; the message names the rows), or needed distances too small relative to
        the largest |value| for double precision (the message says so).
    ConfigError
        Unknown estimator or backend (with a suggestion), k not a positive integer, n_threads == 0.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.standard_normal((4000, 2)), rng.standard_normal((4000, 2)) + [1.0, 0.0]
    >>> round(knn_kl_divergence(x, y), 1)  # closed form: 0.5
    0.5
    """
    estimator = _choice(estimator, ESTIMATORS, "estimator")
    backend = _choice(backend, BACKENDS, "backend")
    algorithm = _choice(algorithm, tuple(_ALGORITHMS), "algorithm")  # type: ignore[assignment]
    k = _check_k(k)
    xs = as_samples(x, "x")
    ys = as_samples(y, "y")
    n, d = xs.shape
    m = ys.shape[0]
    if ys.shape[1] != d:
        raise DataError(f"x has {d} dimensions but y has {ys.shape[1]}; both must be samples in the same space.")
    if n < k + 1:
        raise DataError(f"x has {n} samples; the estimator with k = {k} needs at least k + 1 = {k + 1}.")
    if m < k:
        raise DataError(f"y has {m} samples; the estimator with k = {k} needs at least k = {k}.")
    threads = _n_threads(n_threads)
    eps1 = estimator == "wkv_eps1"
    e = _unit_scale(xs, ys)  # computed at unit magnitude: see _unit_scale
    xu, yu = _rescaled(xs, e), _rescaled(ys, e)
    if backend == "native":
        rho, nu, li, ki = _terms_native(xu, yu, k, eps1, threads, algorithm)
    elif backend == "scipy":
        rho, nu, li, ki = _terms_scipy(xu, yu, k, eps1, threads)
    else:
        rho, nu, li, ki = _terms_faiss(xu, yu, k, eps1, threads)
    if not (rho.all() and nu.all()):
        raise _duplicate_error(xs, ys, rho, nu, k, e)
    tiny = float(min(rho.min(), nu.min()))
    if tiny < _TINY_DISTANCE:
        raise _resolution_error("knn_kl_divergence", tiny, e)
    if e:
        rho, nu = np.ldexp(rho, e), np.ldexp(nu, e)  # back to the caller's units (exact)
    terms = d * np.log(nu / rho)
    if eps1:
        from scipy.special import digamma

        terms = terms + digamma(li) - digamma(ki)
    offset = float(np.log(m / (n - 1)))
    value = float(terms.mean() + offset)
    if return_terms:
        return value, KLTerms(rho, nu, li, ki, terms, offset)
    return value
