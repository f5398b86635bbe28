"""The pure-NumPy reference schemes themselves: second order on a manufactured solution, and the structure of the
operators (the compiled kernels are checked against this reference elsewhere)."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.darcy._reference import assemble_conservative, assemble_paper, reference_solve
from vaetk.darcy._sources import trapezoid_weights

PI = np.pi


def manufactured(n: int) -> tuple[np.ndarray, ...]:
    """p = cos(pi x) cos(pi y), K = exp(sin(2 pi x) cos(3 pi y)), f = -div(K grad p); returns K, f, p, u_x, u_y."""
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x)  # [row, col] = [y, x]
    p = np.cos(PI * X) * np.cos(PI * Y)
    K = np.exp(np.sin(2 * PI * X) * np.cos(3 * PI * Y))
    Kx = K * 2 * PI * np.cos(2 * PI * X) * np.cos(3 * PI * Y)
    Ky = -K * 3 * PI * np.sin(2 * PI * X) * np.sin(3 * PI * Y)
    px, py = -PI * np.sin(PI * X) * np.cos(PI * Y), -PI * np.cos(PI * X) * np.sin(PI * Y)
    f = -(Kx * px + Ky * py) + 2 * PI**2 * K * p
    w = trapezoid_weights(n)
    return K, f, p - (w * p).sum(), -K * px, -K * py


@pytest.mark.parametrize("scheme", ["paper", "conservative"])
def test_second_order_on_a_manufactured_solution(scheme: str) -> None:
    ns = [17, 33, 65]
    errors = []
    for n in ns:
        K, f, p, ux, uy = manufactured(n)
        fields, residual = reference_solve(K, f, scheme)
        assert residual < 1e-12
        w = trapezoid_weights(n)  # discrete L2 norms
        errors.append((np.sqrt((w * (fields[0] - p) ** 2).sum()),
                       np.sqrt((w * ((fields[1] - ux) ** 2 + (fields[2] - uy) ** 2)).sum())))
    errors = np.array(errors)
    orders = np.log2(errors[:-1] / errors[1:])
    assert np.all((orders > 1.9) & (orders < 2.1)), orders


def test_conservative_operator_is_symmetric_with_constant_null_space(rng: np.random.Generator) -> None:
    K = np.exp(rng.standard_normal((9, 9)))
    A = assemble_conservative(K).toarray()
    np.testing.assert_allclose(A, A.T, rtol=0, atol=1e-13)
    np.testing.assert_allclose(A @ np.ones(81), 0, atol=1e-12)
    eig = np.linalg.eigvalsh(A)
    assert abs(eig[0]) < 1e-12 and eig[1] > 1e-3  # positive semi-definite, null space of dimension one


def test_paper_operator_annihilates_constants(rng: np.random.Generator) -> None:
    K = np.exp(rng.standard_normal((9, 9)))
    A = assemble_paper(K).toarray()
    np.testing.assert_allclose(A @ np.ones(81), 0, atol=1e-9)
    assert not np.allclose(A, A.T)  # the expanded form is not symmetric
