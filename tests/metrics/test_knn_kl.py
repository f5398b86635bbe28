"""k-NN distances and the WKV KL estimators: closed-form Gaussian KL, invariances, backend agreement, threads,
duplicates and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.errors import ConfigError, DataError
from vaetk.metrics import knn_distances, knn_kl_divergence

ESTIMATORS = ("wkv", "wkv_eps1")


def gaussian_kl(d: int, shift_norm: float, scale: float) -> float:
    """D(N(0, I) || N(mu, scale^2 I)) with |mu| = shift_norm."""
    return 0.5 * (d / scale**2 + shift_norm**2 / scale**2 - d + 2 * d * np.log(scale))


def mean_bias(d: int, n: int, estimator: str, reps: int = 3) -> float:
    values = []
    for r in range(reps):
        rng = np.random.default_rng([d, n, r])
        x = rng.standard_normal((n, d))
        y = rng.standard_normal((n, d)) * 1.2 + 0.5 / np.sqrt(d)
        values.append(knn_kl_divergence(x, y, estimator=estimator))
    return float(np.mean(values)) - gaussian_kl(d, 0.5, 1.2)


def brute_knn(ref: np.ndarray, query: np.ndarray | None, k: int) -> np.ndarray:
    q = ref if query is None else query
    d = np.sqrt(((q[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2))
    if query is None:
        np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, :k]


# Bias bands (mean of 3 seeded replicates minus the closed form; P = N(0, I), Q = N(mu, 1.2^2 I), |mu| = 0.5).
# The k-NN bias decays slowly in high dimension (roughly n^(-1/d)), hence the wide bands at d = 10.
BANDS = {  # (d, n): (band wkv, band wkv_eps1)
    (2, 512): (0.08, 0.08), (2, 4096): (0.03, 0.03),
    (5, 512): (0.20, 0.20), (5, 4096): (0.15, 0.15),
    (10, 512): (0.60, 0.45), (10, 2048): (0.45, 0.40),
    (2, 65536): (0.01, 0.01), (5, 65536): (0.06, 0.06), (10, 65536): (0.25, 0.25),
}
SIZES = {2: (512, 4096), 5: (512, 4096), 10: (512, 2048)}


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("d", [2, 5, 10])
def test_gaussian_closed_form_bias_shrinks_and_stays_in_band(d: int, estimator: str) -> None:
    small, large = SIZES[d]
    col = ESTIMATORS.index(estimator)
    b_small, b_large = mean_bias(d, small, estimator), mean_bias(d, large, estimator)
    assert abs(b_small) <= BANDS[d, small][col], (d, small, b_small)
    assert abs(b_large) <= BANDS[d, large][col], (d, large, b_large)
    assert abs(b_large) < abs(b_small), (b_small, b_large)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("d", [2, 5, 10])
def test_gaussian_closed_form_large_n(d: int, estimator: str) -> None:
    bias = mean_bias(d, 65536, estimator, reps=2)
    assert abs(bias) <= BANDS[d, 65536][ESTIMATORS.index(estimator)], bias
    assert abs(bias) < abs(mean_bias(d, SIZES[d][1], estimator))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_divergence_of_a_distribution_from_itself_is_about_zero(estimator: str) -> None:
    rng = np.random.default_rng(8)
    x, y = rng.standard_normal((4096, 2)), rng.standard_normal((4096, 2))
    assert abs(knn_kl_divergence(x, y, estimator=estimator)) < 0.03


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_invariant_to_permuting_samples_and_translating_both(estimator: str) -> None:
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((700, 3)), rng.standard_normal((500, 3)) * 1.3
    value = knn_kl_divergence(x, y, estimator=estimator)
    permuted = knn_kl_divergence(x[rng.permutation(700)], y[rng.permutation(500)], estimator=estimator)
    shift = np.array([3.0, -7.0, 0.5])
    moved = knn_kl_divergence(x + shift, y + shift, estimator=estimator)
    assert permuted == pytest.approx(value, abs=1e-12)
    assert moved == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("d", [1, 2, 3, 5, 10])
def test_backends_and_algorithms_agree(d: int, estimator: str) -> None:
    rng = np.random.default_rng(d)
    x, y = rng.standard_normal((600, d)), rng.standard_normal((450, d)) * 0.8 + 0.3
    ref = knn_kl_divergence(x, y, estimator=estimator, backend="scipy", k=4)
    for backend, algorithm in [("native", "auto"), ("native", "grid"), ("native", "kdtree"), ("native", "brute"),
                               ("faiss", "auto")]:
        got = knn_kl_divergence(x, y, estimator=estimator, backend=backend, algorithm=algorithm, k=4)
        assert got == pytest.approx(ref, abs=1e-10), (backend, algorithm)


def test_terms_are_identical_for_any_thread_count() -> None:
    # large enough that the kernels really use two threads (below 16384 queries they run on one)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20000, 2)), rng.standard_normal((17000, 2))
    for estimator in ESTIMATORS:
        _, one = knn_kl_divergence(x, y, estimator=estimator, n_threads=1, return_terms=True)
        _, two = knn_kl_divergence(x, y, estimator=estimator, n_threads=2, return_terms=True)
        for field in ("rho", "nu", "l", "k"):
            assert np.array_equal(getattr(one, field), getattr(two, field)), (estimator, field)
    assert np.array_equal(knn_distances(x, k=3, n_threads=1), knn_distances(x, k=3, n_threads=2))


def test_returned_terms_reproduce_the_estimate() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((300, 2)), rng.standard_normal((200, 2))
    value, t = knn_kl_divergence(x, y, k=3, return_terms=True)
    assert np.all(t.l == 3) and np.all(t.k == 3)
    assert value == pytest.approx(2 * np.mean(np.log(t.nu / t.rho)) + np.log(200 / 299), abs=1e-13)
    value, t = knn_kl_divergence(x, y, k=3, estimator="wkv_eps1", return_terms=True)
    assert np.all(t.l >= 3) and np.all(t.k >= 3) and np.all((t.l == 3) | (t.k == 3))
    assert value == pytest.approx(t.terms.mean() + t.offset, abs=1e-13)


@pytest.mark.parametrize("backend", ["native", "scipy", "faiss"])
def test_knn_distances_match_brute_force(backend: str) -> None:
    rng = np.random.default_rng(5)
    ref, query = rng.standard_normal((400, 3)), rng.standard_normal((150, 3))
    np.testing.assert_allclose(knn_distances(ref, query, k=6, backend=backend), brute_knn(ref, query, 6),
                               rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(knn_distances(ref, k=6, backend=backend), brute_knn(ref, None, 6),
                               rtol=1e-13, atol=1e-14)


def test_faiss_backend_is_exact_where_float32_is_not() -> None:
    # points 1e-4 apart at distance 1000 from the origin: float32 cannot resolve them; the re-ranking must
    rng = np.random.default_rng(6)
    ref = 1000.0 + 1e-3 * rng.standard_normal((300, 2))
    np.testing.assert_allclose(knn_distances(ref, k=5, backend="faiss"), brute_knn(ref, None, 5),
                               rtol=1e-9)


def test_self_search_excludes_the_query_by_index_not_by_distance() -> None:
    ref = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    for backend in ("native", "scipy", "faiss"):
        got = knn_distances(ref, k=2, backend=backend)
        np.testing.assert_array_equal(got[:2], [[0.0, 1.0], [0.0, 1.0]])
        np.testing.assert_array_equal(got[2:], [[1.0, 1.0], [2.0, 3.0]])


@pytest.mark.parametrize("backend", ["native", "scipy", "faiss"])
def test_duplicates_policy(backend: str) -> None:
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((200, 2)), rng.standard_normal((200, 2))
    few = x.copy()
    few[[10, 20]] = few[5]  # two copies: the 5th-neighbour distance is still positive
    assert np.isfinite(knn_kl_divergence(few, y, k=5, backend=backend))
    many = x.copy()
    many[[10, 20, 30, 40, 50]] = many[5]
    with pytest.raises(DataError, match=r"x row 5 has at least k = 5 exact copies .*rows 10, 20, 30, 40, 50"):
        knn_kl_divergence(many, y, k=5, backend=backend)
    ys = y.copy()
    ys[:5] = x[7]
    with pytest.raises(DataError, match=r"x row 7 coincides with at least k = 5 rows of y \(rows 0, 1, 2, 3, 4\)"):
        knn_kl_divergence(x, ys, k=5, backend=backend)


def test_bad_input_errors() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((20, 2)), rng.standard_normal((20, 2))
    nan = x.copy()
    nan[3, 0] = np.nan
    inf = y.copy()
    inf[4, 1] = np.inf
    cases = [
        (dict(x=nan, y=y), DataError, r"x: 1 row\(s\) contain NaN or infinite values \(rows 3\)"),
        (dict(x=x, y=inf), DataError, r"y: .*rows 4"),
        (dict(x=np.empty((0, 2)), y=y), DataError, "x: empty array"),
        (dict(x=x[:, 0], y=y), DataError, r"expected a 2-D array.*x\[:, None\]"),
        (dict(x=x, y=y[:, :1]), DataError, "x has 2 dimensions but y has 1"),
        (dict(x=x[:5], y=y), DataError, "x has 5 samples; .* needs at least k \\+ 1 = 6"),
        (dict(x=x, y=y[:4]), DataError, "y has 4 samples"),
        (dict(x=x, y=y, estimator="wkv_eps"), ConfigError, "Did you mean 'wkv_eps1'"),
        (dict(x=x, y=y, backend="scipyy"), ConfigError, "Did you mean 'scipy'"),
        (dict(x=x, y=y, k=0), ConfigError, "k: expected a positive integer"),
        (dict(x=x, y=y, k=2.5), ConfigError, "k: expected a positive integer"),
        (dict(x=x, y=y, n_threads=0), ConfigError, "n_threads"),
        (dict(x=[["a", "b"]], y=y), DataError, "x: expected real numbers"),
    ]
    for kwargs, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            knn_kl_divergence(**kwargs)
    with pytest.raises(DataError, match="only 19 reference points"):
        knn_distances(x, k=20)


SCALES = [1e-200, 1e-160, 1e-100, 1e-10, 1e10, 1e100, 1e150, 1e154]


@pytest.mark.parametrize("estimator", ["wkv", "wkv_eps1"])
@pytest.mark.parametrize("backend", ["native", "scipy"])
def test_estimate_does_not_depend_on_the_scale(backend: str, estimator: str) -> None:
    # Issue 15: at 1e154 the squared distances overflowed (NaN), at 1e-160 they were subnormal (biased), at 1e-200
    # they were 0 (a duplicate-rows error listing no rows). The data are rescaled internally by a power of two,
    # so a power-of-two scale gives the same bits and a decimal scale the same value up to the rounding of
    # x * scale itself: |difference| <= 1e-12 (a few ulps of the per-sample log terms; observed <= 3e-16).
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((500, 2)), rng.standard_normal((400, 2)) + [0.2, 0.0]
    want = knn_kl_divergence(x, y, estimator=estimator, backend=backend)
    for scale in SCALES:
        got = knn_kl_divergence(x * scale, y * scale, estimator=estimator, backend=backend)
        assert abs(got - want) <= 1e-12, (scale, got, want)
    for power in (-700, -510, 510, 1000):
        s = 2.0 ** power
        assert knn_kl_divergence(x * s, y * s, estimator=estimator, backend=backend) == want
    np.testing.assert_allclose(knn_distances(x * 1e154, k=3, backend=backend) / 1e154, knn_distances(x, k=3),
                               rtol=0, atol=1e-14)  # rounding of x * 1e154, relative to |x| ~ 1


def test_unresolvable_distances_are_an_error_that_says_so() -> None:
    # Distinct points 1e-170 apart next to a point at magnitude 1: no double can hold their squared distance.
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((50, 2)) * 1e-170, rng.standard_normal((40, 2)) * 1e-170
    x[0] = [1.0, 1.0]
    with pytest.raises(DataError, match="distinct points are closer than double precision can resolve"):
        knn_kl_divergence(x, y)
