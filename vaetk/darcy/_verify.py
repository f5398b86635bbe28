"""A quick manufactured-solution check of a scheme + solver, recorded in every dataset store.

p = cos(pi x) cos(pi y) (no-flux at the walls, zero mean), K = exp(0.5 sin(2 pi x) cos(3 pi y)) and
f = -div(K grad p) on two grids; the observed order log2(e_h / e_{h/2}) of the discrete L2 errors of p and u
should be close to 2 for both schemes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaetk.darcy._sources import trapezoid_weights

__all__ = ["manufactured_problem", "observed_order"]

PI = math.pi


def manufactured_problem(n: int) -> tuple[np.ndarray, ...]:
    """(K, f, p, u_x, u_y) at the nodes of the n x n grid ([row, col] = [y, x]); p has zero trapezoid mean."""
    x = np.linspace(0.0, 1.0, n)
    X, Y = np.meshgrid(x, x)
    g = 0.5 * np.sin(2 * PI * X) * np.cos(3 * PI * Y)
    K = np.exp(g)
    Kx = K * 0.5 * 2 * PI * np.cos(2 * PI * X) * np.cos(3 * PI * Y)
    Ky = -K * 0.5 * 3 * PI * np.sin(2 * PI * X) * np.sin(3 * PI * Y)
    p = np.cos(PI * X) * np.cos(PI * Y)
    px, py = -PI * np.sin(PI * X) * np.cos(PI * Y), -PI * np.cos(PI * X) * np.sin(PI * Y)
    f = -(Kx * px + Ky * py) + 2 * PI**2 * K * p
    w = trapezoid_weights(n)
    return K, f, p - (w * p).sum(), -K * px, -K * py


def observed_order(scheme: str, solver: str = "auto", grids: tuple[int, int] = (17, 33)) -> dict[str, Any]:
    """Solve the manufactured problem on two grids with ``solve(..., scheme, solver)``; return the errors and the
    observed convergence orders (a record for a store's attributes)."""
    from vaetk.darcy._solve import solve

    errors = []
    for n in grids:
        K, f, p, ux, uy = manufactured_problem(n)
        fields = solve(K, f, scheme=scheme, solver=solver)[0]
        w = trapezoid_weights(n)
        errors.append((float(np.sqrt((w * (fields[0] - p) ** 2).sum())),
                       float(np.sqrt((w * ((fields[1] - ux) ** 2 + (fields[2] - uy) ** 2)).sum()))))
    ratio = (grids[1] - 1) / (grids[0] - 1)
    return {
        "method": "manufactured solution p = cos(pi x) cos(pi y), K = exp(0.5 sin(2 pi x) cos(3 pi y))",
        "scheme": scheme,
        "solver": solver,
        "grids": list(grids),
        "errors_pressure": [e[0] for e in errors],
        "errors_velocity": [e[1] for e in errors],
        "order_pressure": math.log(errors[0][0] / errors[1][0]) / math.log(ratio),
        "order_velocity": math.log(errors[0][1] / errors[1][1]) / math.log(ratio),
    }
