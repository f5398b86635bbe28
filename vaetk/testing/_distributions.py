"""Contract checks for distributions plugins (see :mod:`vaetk.testing`).

The idiom checks (:mod:`vaetk.testing._idiom`) come first; distributions take no construction context, and two
distributions are equal when they have the same dimension, draw the same samples from equally seeded generators
and give the same log-densities. Every other check builds the plugin from ``example_config()``. The density
checks integrate ``exp(log_prob)`` on a 2-D midpoint grid, so a plugin's ``example_config()`` must be
two-dimensional (the KLE2 case).
"""

from __future__ import annotations

import numpy as np

from vaetk.testing import Check
from vaetk.testing._idiom import idiom_checks

_SEED = 20240531
_N_MOMENTS = 20_000
_GRID = 600


def _instance(plugin: type):  # type: ignore[no-untyped-def]
    return plugin(plugin.example_config())


def _rng(offset: int = 0) -> np.random.Generator:
    return np.random.default_rng(_SEED + offset)


def _build(plugin: type, config: object):  # type: ignore[no-untyped-def]
    return plugin(config)


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.dim == b.dim, f"dim differs: {a.dim} vs {b.dim}"
    xa, xb = a.sample(16, _rng()), b.sample(16, _rng())
    assert np.array_equal(xa, xb), "equally seeded samples differ"
    assert np.array_equal(np.asarray(a.log_prob(xa)), np.asarray(b.log_prob(xa))), "log_prob differs"


def check_sample_shape_and_dtype(plugin: type) -> None:
    dist = _instance(plugin)
    dim = dist.dim
    assert isinstance(dim, int) and dim >= 1, f"dim must be a positive int, got {dim!r}"
    for n in (0, 1, 7):
        x = dist.sample(n, _rng())
        assert isinstance(x, np.ndarray), f"sample({n}) must return an ndarray, got {type(x).__name__}"
        assert x.shape == (n, dim), f"sample({n}) must have shape ({n}, {dim}), got {x.shape}"
        assert x.dtype == np.float64, f"sample() must return float64, got {x.dtype}"
        assert np.all(np.isfinite(x)), "sample() returned non-finite values"


def check_seeded_determinism(plugin: type) -> None:
    dist = _instance(plugin)
    a, b = dist.sample(50, _rng()), dist.sample(50, _rng())
    assert np.array_equal(a, b), "two generators with the same seed must give identical samples"
    np.random.seed(1)  # the legacy global state must play no part
    c = dist.sample(50, _rng())
    np.random.seed(2)
    assert np.array_equal(c, a), (
        "sample() must use only the Generator it is given (not np.random's global state)"
    )
    assert not np.array_equal(a, dist.sample(50, _rng(1))), "different seeds gave identical samples"


def check_log_prob_finite_and_consistent(plugin: type) -> None:
    dist = _instance(plugin)
    x = dist.sample(64, _rng())
    lp = np.asarray(dist.log_prob(x))
    assert lp.shape == (64,), (
        f"log_prob(x) for x of shape (64, {dist.dim}) must have shape (64,), got {lp.shape}"
    )
    assert np.all(np.isfinite(lp)), "log_prob must be finite at the distribution's own samples"
    single = np.array([float(np.asarray(dist.log_prob(row[None]))[0]) for row in x[:8]])
    np.testing.assert_allclose(
        single,
        lp[:8],
        rtol=1e-12,
        atol=1e-12,
        err_msg="log_prob of one row must not depend on the other rows of the batch",
    )


def _grid(dist) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[no-untyped-def]
    """Midpoints of a box around the samples (wide margin), their densities, and the cell area."""
    assert dist.dim == 2, (
        f"example_config() must describe a 2-D distribution for the normalisation and moment "
        f"checks (got dim {dist.dim})"
    )
    x = dist.sample(_N_MOMENTS, _rng(2))
    lo, hi = x.min(axis=0), x.max(axis=0)
    lo, hi = lo - 0.25 * (hi - lo), hi + 0.25 * (hi - lo)
    axes = [lo[d] + (np.arange(_GRID) + 0.5) * (hi[d] - lo[d]) / _GRID for d in range(2)]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
    area = float(np.prod((hi - lo) / _GRID))
    return pts, np.exp(np.asarray(dist.log_prob(pts))), area


def check_log_prob_integrates_to_one(plugin: type) -> None:
    pts, density, area = _grid(_instance(plugin))
    total = density.sum() * area
    assert abs(total - 1.0) < 1e-2, f"exp(log_prob) integrates to {total:.6f} over the sample box, not 1"


def check_sample_moments_match_density(plugin: type) -> None:
    dist = _instance(plugin)
    pts, density, area = _grid(dist)
    weights = density * area / (density * area).sum()
    mean_q = weights @ pts
    cov_q = (pts - mean_q).T @ ((pts - mean_q) * weights[:, None])
    x = dist.sample(_N_MOMENTS, _rng(3))
    mean_s, cov_s = x.mean(axis=0), np.cov(x, rowvar=False)
    # 6 (mean) and 8 (covariance, allowing for kurtosis) standard errors, plus the quadrature error.
    se_mean = np.sqrt(np.diag(cov_q) / _N_MOMENTS)
    assert np.all(np.abs(mean_s - mean_q) < 6 * se_mean + 1e-3 * np.sqrt(np.diag(cov_q))), (
        f"sample mean {mean_s} does not match the mean of exp(log_prob) {mean_q}"
    )
    scale = np.sqrt(np.outer(np.diag(cov_q), np.diag(cov_q)))
    assert np.all(np.abs(cov_s - cov_q) < 8 * np.sqrt(2.0 / _N_MOMENTS) * scale + 1e-3 * scale), (
        f"sample covariance {cov_s.tolist()} does not match the covariance of exp(log_prob) {cov_q.tolist()}"
    )


CHECKS: list[Check] = [
    *idiom_checks(_build, _assert_same),
    Check("sample_shape_and_dtype", check_sample_shape_and_dtype),
    Check("seeded_determinism", check_seeded_determinism),
    Check("log_prob_finite_and_consistent", check_log_prob_finite_and_consistent),
    Check("log_prob_integrates_to_one", check_log_prob_integrates_to_one),
    Check("sample_moments_match_density", check_sample_moments_match_density),
]
