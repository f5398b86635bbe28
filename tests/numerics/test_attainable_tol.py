"""The tolerance floor of the iterative solvers on fine grids (vaetk.darcy.solvers.attainable_tol).

At n = 513 the default tolerance, 1e-10, is at the rounding floor of the paper scheme's operator: restarted GMRES
stalled at 3.1e-10 on the field below (and reported a worse iterate, 5.9e-10, from a restart that made it worse).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaetk.darcy import paper_source, solve
from vaetk.darcy._reference import reference_solve
from vaetk.darcy.solvers import attainable_tol


def _stalling_field() -> np.ndarray:
    """A smooth log-normal field on 513 x 513 (9 cosine modes; contrast 7) on which GMRES stalls above 1e-10."""
    rng = np.random.default_rng(513)
    s = np.linspace(0.0, 1.0, 513)
    log_k = np.zeros((32, 513, 513))
    for a in range(1, 4):
        for b in range(1, 4):
            mode = np.cos(math.pi * a * s)[:, None] * np.cos(math.pi * b * s)[None, :] / (a * b)
            log_k += rng.standard_normal((32, 1, 1)) * mode
    return np.exp(log_k[0])


def test_floor_values():
    eps = np.finfo(float).eps
    assert attainable_tol(129) == pytest.approx(16 * eps * 128**2)
    assert attainable_tol(168) < 1e-10 < attainable_tol(169)  # the default tolerance holds up to n = 168
    assert attainable_tol(513) == pytest.approx(9.31e-10, rel=1e-3)


@pytest.mark.parametrize("solver", ["native", "torch"])
def test_default_tolerance_converges_at_n513(solver):
    K = _stalling_field()
    fields, info = solve(K, scheme="paper", solver=solver, return_info=True)
    assert info.tol == pytest.approx(attainable_tol(513))
    assert info.residual[0] <= info.tol
    exact, _ = reference_solve(K, paper_source(513, quadrature="node"), "paper")
    # what the looser tolerance costs in the solution: a few parts in 1e10
    assert np.abs(fields[0, 0] - exact[0]).max() / np.abs(exact[0]).max() < 5e-9


def test_explicit_tolerance_below_the_floor_is_raised_and_recorded():
    K = np.ones((1, 257, 257))
    _, info = solve(K, scheme="conservative", solver="native", tol=1e-13, return_info=True)
    assert info.tol == pytest.approx(attainable_tol(257)) and info.residual[0] <= info.tol
    _, info = solve(K[:, :33, :33], scheme="conservative", solver="native", tol=1e-11, return_info=True)
    assert info.tol == 1e-11  # above the floor (3.6e-12 at n = 33): what was asked
