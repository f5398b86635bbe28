"""Source terms: the paper's injection and production wells (eq. 17) on the node grid.

f = +r on the square x, y in [0, w], -r on x, y in [1 - w, 1], zero elsewhere (paper: w = 1/8, r = 10). Two
quadratures turn it into node values:

- ``"node"`` (the authors' choice): f sampled at the nodes. With w = 1/8 at n = 65 each well covers 9 x 9 nodes
  whose dual cells add up to (8.5 h)^2 instead of w^2, so the well injects (8.5 h)^2 r: 12.9 % too much.
- ``"cell"``: f averaged over each node's dual cell (the cell of half-spacings around the node, clipped to the
  domain), which makes the discrete total injection exact at every n.

Either way the two wells mirror each other, so the total source (trapezoid-weighted) is exactly zero.
"""

from __future__ import annotations

import numpy as np

from vaetk._validation import is_int
from vaetk.config import check_param

__all__ = ["QUADRATURES", "paper_source", "trapezoid_weights"]

QUADRATURES = ("node", "cell")


def trapezoid_weights(n: int) -> np.ndarray:
    """Trapezoid-rule weights w_ij = h^2 c_i c_j (c = 1/2 at both ends, else 1): the dual-cell areas, (n, n)."""
    c = np.ones(n)
    c[[0, -1]] = 0.5
    h = 1.0 / (n - 1)
    return h * h * np.outer(c, c)


def _cell_fraction(n: int, lo: float, hi: float) -> np.ndarray:
    """Fraction of each node's 1-D dual cell [x - h/2, x + h/2] (clipped to [0, 1]) lying inside [lo, hi]."""
    h = 1.0 / (n - 1)
    x = np.arange(n) * h
    left, right = np.clip(x - h / 2, 0, 1), np.clip(x + h / 2, 0, 1)
    overlap = np.clip(np.minimum(right, hi) - np.maximum(left, lo), 0, None)
    return overlap / (right - left)


def paper_source(n: int, *, quadrature: str = "node", rate: float = 10.0, width: float = 0.125) -> np.ndarray:
    """The paper's two wells (eq. 17) as node values of f.

    Parameters
    ----------
    n : int
        Nodes per side (>= 3).
    quadrature : {"node", "cell"}
        ``"node"``: sample f at the nodes (authors); ``"cell"``: average f over each node's dual cell (exact total).
    rate : float
        Injection rate r (production is -r).
    width : float
        Side w of the two square wells, in (0, 1/2].

    Returns
    -------
    ndarray of shape (n, n), float64

    Examples
    --------
    >>> f = paper_source(65)
    >>> int((f > 0).sum()), int((f < 0).sum())
    (81, 81)
    >>> float((trapezoid_weights(65) * f).sum())
    0.0
    """
    owner = "paper_source()"
    check_param(is_int(n, 3), "n", "an int >= 3", n, owner)
    check_param(quadrature in QUADRATURES, "quadrature", "one of 'node', 'cell'", quadrature, owner)
    check_param(0 < width <= 0.5, "width", "a number in (0, 0.5]", width, owner)
    if quadrature == "node":
        x = np.linspace(0.0, 1.0, n)
        tol = 1e-12  # nodes exactly on the well edge (x = w) belong to the well, as in the authors' code
        inject = (x <= width + tol).astype(float)
        produce = (x >= 1 - width - tol).astype(float)
    else:
        inject = _cell_fraction(n, 0.0, width)
        produce = _cell_fraction(n, 1.0 - width, 1.0)
    return rate * (np.outer(inject, inject) - np.outer(produce, produce))
