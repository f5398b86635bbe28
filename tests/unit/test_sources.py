"""The paper's wells (eq. 17) in both quadratures."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.darcy import paper_source
from vaetk.darcy._sources import trapezoid_weights
from vaetk.errors import ConfigError


@pytest.mark.parametrize("n", [9, 17, 33, 65, 100, 129])
@pytest.mark.parametrize("quadrature", ["node", "cell"])
def test_total_source_is_zero(n: int, quadrature: str) -> None:
    f = paper_source(n, quadrature=quadrature)
    w = trapezoid_weights(n)
    assert abs((w * f).sum()) < 1e-14
    assert np.isclose(w.sum(), 1.0)


@pytest.mark.parametrize("n", [9, 17, 33, 65, 100, 129])
def test_cell_quadrature_injects_exactly_r_w_squared(n: int) -> None:
    f = paper_source(n, quadrature="cell")
    injected = (trapezoid_weights(n) * np.clip(f, 0, None)).sum()
    assert injected == pytest.approx(10 * 0.125**2, rel=1e-13)


def test_node_quadrature_matches_the_authors_9x9_wells() -> None:
    f = paper_source(65, quadrature="node")
    assert (f[:9, :9] == 10).all() and (f[-9:, -9:] == -10).all()
    assert np.count_nonzero(f) == 2 * 81
    injected = (trapezoid_weights(65) * np.clip(f, 0, None)).sum()
    h = 1 / 64
    assert injected == pytest.approx(10 * (8.5 * h) ** 2, rel=1e-13)  # 12.9 % more than r w^2
    assert injected / (10 * 0.125**2) == pytest.approx(1.12890625)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 2}, "'n' parameter"), ({"n": 65, "quadrature": "nodes"}, "'quadrature' parameter"),
    ({"n": 65, "width": 0.7}, "'width' parameter"),
])
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        paper_source(**kwargs)
