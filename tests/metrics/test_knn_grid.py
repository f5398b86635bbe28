"""The uniform-grid k-NN search (d <= 3) and the fixed-x WKV evaluator used by S_KL, on inputs that stress their
bounds: queries far outside the grid, exact distance ties, collapsed dimensions, heavy tails, extreme scales."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.errors import DataError
from vaetk.metrics import knn_distances, knn_kl_divergence


def awkward(case: str, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x, y = rng.standard_normal((400, d)), rng.standard_normal((250, d))
    if case == "far_tiny_y":  # every query far outside y's grid
        y = y * 1e-6 + 50.0
    elif case == "lattice":  # distinct points with many exactly tied distances
        side = int(np.ceil(650 ** (1 / d)))
        pts = np.stack(np.meshgrid(*[np.arange(float(side))] * d, indexing="ij"), axis=-1).reshape(-1, d)
        pts = pts[rng.permutation(len(pts))]
        x, y = pts[:400], pts[-250:] + 0.5
    elif case == "collapsed_dim":  # (in 1-D: all of y on one point)
        (x if d > 1 else y)[:, 0] = 2.0
    elif case == "cauchy":
        x, y = rng.standard_cauchy((400, d)), rng.standard_cauchy((250, d))
    elif case == "wide_and_narrow":  # spreads differing by 1e9 across dimensions
        x[:, -1] *= 1e-9
        y[:, 0] *= 1e9
    return x, y


CASES = ["far_tiny_y", "lattice", "collapsed_dim", "cauchy", "wide_and_narrow"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_grid_distances_equal_kdtree_and_scipy(case: str, d: int) -> None:
    x, y = awkward(case, d, np.random.default_rng(d))
    for query in (None, y):
        for k in (1, 5):
            grid = knn_distances(x, query, k=k, algorithm="grid")
            assert np.array_equal(grid, knn_distances(x, query, k=k, algorithm="kdtree")), (k, query is None)
            assert np.allclose(grid, knn_distances(x, query, k=k, backend="scipy"), rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_grid_radius_counts_equal_kdtree(case: str, d: int) -> None:
    # eps1 needs exact counts within radii that are themselves neighbour distances (ties on the lattice)
    x, y = awkward(case, d, np.random.default_rng(10 + d))
    try:
        _, grid = knn_kl_divergence(x, y, estimator="wkv_eps1", algorithm="grid", return_terms=True, k=3)
    except DataError:
        pytest.fail("no exact duplicates in these cases")
    _, tree = knn_kl_divergence(x, y, estimator="wkv_eps1", algorithm="kdtree", return_terms=True, k=3)
    for field in ("rho", "nu", "l", "k"):
        assert np.array_equal(getattr(grid, field), getattr(tree, field)), field


@pytest.mark.parametrize("estimator", ["wkv", "wkv_eps1"])
@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_fixed_x_evaluator_equals_the_estimator(estimator: str, d: int) -> None:
    from vaetk._build import core

    rng = np.random.default_rng(d)
    x, z = rng.standard_normal((300, d)), rng.standard_normal((260, d))
    fixed = core().WkvFixedX(x, 5, estimator == "wkv_eps1")
    for scale, shift in [(np.ones(d), np.zeros(d)), (np.full(d, 1e-7), np.full(d, 3.0)),
                         (np.geomspace(0.2, 40.0, d), np.linspace(-1.0, 1.0, d)), (np.full(d, 1e6), np.zeros(d))]:
        want = knn_kl_divergence(x, scale * z + shift, estimator=estimator, k=5)
        assert fixed.evaluate(z, scale, shift) == pytest.approx(want, abs=1e-12), (scale, shift)
    # lattice ties
    lattice = np.stack(np.meshgrid(*[np.arange(4.0)] * 2, indexing="ij"), axis=-1).reshape(-1, 2)
    xl, zl = lattice[::2] * 1.0, lattice[1::2] + 0.25
    want = knn_kl_divergence(xl, 2.0 * zl, estimator=estimator, k=2)
    got = core().WkvFixedX(xl, 2, estimator == "wkv_eps1").evaluate(zl, np.full(2, 2.0), np.zeros(2))
    assert got == pytest.approx(want, abs=1e-12)


def test_fixed_x_evaluator_is_infinite_on_a_zero_distance_and_checks_shapes() -> None:
    from vaetk._build import core

    rng = np.random.default_rng(0)
    x, z = rng.standard_normal((50, 2)), rng.standard_normal((40, 2))
    fixed = core().WkvFixedX(x, 3, True)
    assert fixed.evaluate(z, np.zeros(2), x[7].copy()) == np.inf  # every y coincides with x_7
    with pytest.raises(ValueError, match="scale"):
        fixed.evaluate(z, np.ones(3), np.zeros(2))
    with pytest.raises(ValueError, match="fewer than k"):
        fixed.evaluate(z[:2], np.ones(2), np.zeros(2))


@pytest.mark.parametrize("estimator", ["wkv", "wkv_eps1"])
@pytest.mark.parametrize("backend", ["native", "scipy", "faiss"])
def test_public_wkv_terms_are_the_estimator_terms(estimator: str, backend: str) -> None:
    from vaetk.metrics import wkv_terms

    if backend == "faiss":
        pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((300, 2)), rng.standard_normal((250, 2))
    _, want = knn_kl_divergence(x, y, k=4, estimator=estimator, backend=backend, return_terms=True)
    got = wkv_terms(x, y, k=4, estimator=estimator, backend=backend, n_threads=1)
    for field, value in zip(("rho", "nu", "l", "k"), got, strict=True):
        assert np.array_equal(value, getattr(want, field)), field
    out = (np.empty(300), np.empty(300), np.empty(300, dtype=np.int64), np.empty(300, dtype=np.int64))
    written = wkv_terms(x, y, k=4, estimator=estimator, backend=backend, n_threads=1, out=out)
    assert all(a is b for a, b in zip(written, out, strict=True))
    for a, b in zip(out, got, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("estimator", ["wkv", "wkv_eps1"])
def test_public_fixed_x_evaluator_is_the_core_one(estimator: str) -> None:
    from vaetk._build import core
    from vaetk.metrics import WkvFixedX

    rng = np.random.default_rng(6)
    x, z = rng.standard_normal((200, 3)), rng.standard_normal((180, 3))
    scale, shift = np.geomspace(0.5, 4.0, 3), np.linspace(-1.0, 1.0, 3)
    fixed = WkvFixedX(x, k=5, estimator=estimator)
    want = core().WkvFixedX(x, 5, estimator == "wkv_eps1").evaluate(z, scale, shift, 1)
    assert (fixed.n, fixed.d) == (200, 3)
    assert fixed.evaluate(z, scale, shift, n_threads=1) == want
    assert fixed.evaluate(z, np.zeros(3), x[3].copy(), n_threads=1) == np.inf


def test_public_wkv_helpers_check_their_options() -> None:
    from vaetk.errors import ConfigError
    from vaetk.metrics import WkvFixedX, wkv_terms

    x = np.random.default_rng(7).standard_normal((20, 2))
    with pytest.raises(ConfigError, match="Did you mean 'wkv_eps1'"):
        wkv_terms(x, x, estimator="wkv_eps")
    with pytest.raises(ConfigError, match="k: expected a positive integer"):
        WkvFixedX(x, k=0)
