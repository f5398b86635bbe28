"""Kraskov-Stoegbauer-Grassberger (2004, estimator 1) mutual information between scalar variables.

For m scalar variables observed jointly on n samples (columns of ``v``), each standardised first (so the
estimate does not depend on their units):

    I(v_1; ...; v_m) = psi(k) + (m - 1) psi(n) - mean_i sum_c psi(n_c(i) + 1)

with eps_i the max-norm distance from sample i to its k-th nearest neighbour in the joint space (itself
excluded by index) and n_c(i) the number of other samples whose coordinate c is strictly within eps_i. For m = 2
this is the mutual information; for m > 2 the total correlation (multi-information). Its value for two
variables related by any strictly monotone map (no ties) is psi(n) - psi(k), the largest it can return, which
:func:`ksg_ceiling` gives. Tied values (e.g. a constant variable) need no special case: a constant column has
n_c = n - 1 and contributes no information.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

__all__ = ["ksg_ceiling", "ksg_mi", "standardise"]


def standardise(v: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit standard deviation; constant columns become exactly 0."""
    c = v - v.mean(axis=0)
    sd = c.std(axis=0)
    const = sd <= 1e-12 * np.maximum(np.abs(v).max(axis=0), 1e-300)
    c[:, const] = 0.0
    return c / np.where(const, 1.0, sd)


def ksg_ceiling(n: int, k: int) -> float:
    """psi(n) - psi(k): the KSG estimate for two variables related by a strictly monotone map."""
    return float(digamma(n) - digamma(k))


def _strict_counts(col: np.ndarray, eps: np.ndarray) -> np.ndarray:
    s = np.sort(col)
    inside = np.searchsorted(s, col + eps, side="left") - np.searchsorted(s, col - eps, side="right")
    return np.maximum(inside - (eps > 0), 0)  # the sample itself lies inside whenever eps > 0


def ksg_mi(v: np.ndarray, k: int = 3) -> float:
    """KSG estimate (nats) of the mutual information / total correlation of the columns of ``v`` (n, m)."""
    n, m = v.shape
    z = standardise(v)
    dist, idx = cKDTree(z).query(z, k=k + 1, p=np.inf)
    keep = idx != np.arange(n)[:, None]
    keep[keep.all(axis=1), -1] = False
    # strictly within eps; the relative 1e-10 guard keeps the k-th neighbour itself out when rounding makes its
    # coordinate distance a hair smaller than the max-norm distance computed by the tree
    eps = dist[keep].reshape(n, k)[:, -1] * (1.0 - 1e-10)
    total = sum(digamma(_strict_counts(z[:, c], eps) + 1) for c in range(m))
    return float(digamma(k) + (m - 1) * digamma(n) - np.mean(total))
