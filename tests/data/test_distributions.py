"""Parameter distributions p(theta): closed-form densities and moments, the paper presets (docs/design.md, section 8.3),
bad parameters, and a third-party distribution installed through an entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from vaetk.distributions import Distribution, create
from vaetk.errors import ConfigError, PluginNotFoundError
from vaetk.registry import registry
from vaetk.testing import check_plugin

FIXTURE = Path(__file__).parents[1] / "fixtures" / "distribution_dist"
N = 40_000


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x.mean(axis=0), np.cov(x, rowvar=False)


def test_standard_normal_density_and_moments(rng: np.random.Generator) -> None:
    dist = create("standard_normal", {"dim": 3})
    x = dist.sample(N, rng)
    mean, cov = _moments(x)
    np.testing.assert_allclose(mean, 0, atol=5 / np.sqrt(N))
    np.testing.assert_allclose(cov, np.eye(3), atol=8 * np.sqrt(2 / N))
    np.testing.assert_allclose(
        dist.log_prob(x[:50]), scipy.stats.multivariate_normal(np.zeros(3)).logpdf(x[:50]), rtol=1e-12
    )


def test_gaussian_with_full_covariance_matches_scipy(rng: np.random.Generator) -> None:
    cov = [[1.0, 0.6], [0.6, 2.0]]
    dist = create("gaussian", {"mean": [0.5, -1.0], "cov": cov})
    x = dist.sample(N, rng)
    mean, sample_cov = _moments(x)
    np.testing.assert_allclose(mean, [0.5, -1.0], atol=5 * np.sqrt(2.0 / N))
    np.testing.assert_allclose(sample_cov, cov, atol=8 * np.sqrt(2 / N) * 2.0)
    ref = scipy.stats.multivariate_normal([0.5, -1.0], cov)
    np.testing.assert_allclose(dist.log_prob(x[:100]), ref.logpdf(x[:100]), rtol=1e-12)


def test_paper_shifted_preset_is_mean_one_std_half(rng: np.random.Generator) -> None:
    dist = create("gaussian", {"preset": "paper_shifted"})
    np.testing.assert_array_equal(dist.mean, [1.0, 1.0])
    np.testing.assert_array_equal(dist.cov, np.diag([0.25, 0.25]))  # std 0.5, not covariance 0.5
    mean, cov = _moments(dist.sample(N, rng))
    np.testing.assert_allclose(mean, 1.0, atol=5 * 0.5 / np.sqrt(N))
    np.testing.assert_allclose(cov, np.diag([0.25, 0.25]), atol=8 * np.sqrt(2 / N) * 0.25)


def test_paper_4mode_preset_and_mixture_moments(rng: np.random.Generator) -> None:
    dist = create("gaussian_mixture", {"preset": "paper_4mode"})
    assert dist.weights.tolist() == [0.25] * 4
    assert sorted(map(tuple, dist.means.tolist())) == [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    np.testing.assert_array_equal(dist.covs, np.broadcast_to(np.eye(2) * 0.0625, (4, 2, 2)))
    assert create("gaussian_mixture", {}).means.tolist() == dist.means.tolist()  # Config() is the preset
    # Closed form: mean sum w mu = 0; covariance sum w (Sigma + mu mu^T) = (0.0625 + 1) I.
    x = dist.sample(N, rng)
    mean, cov = _moments(x)
    np.testing.assert_allclose(mean, 0, atol=5 * np.sqrt(1.0625 / N))
    np.testing.assert_allclose(cov, 1.0625 * np.eye(2), atol=8 * np.sqrt(2 / N) * 1.0625)
    # Each sample lies near one centre (component std 0.25): quadrant frequencies are the weights.
    counts = np.array(
        [np.sum((np.sign(x[:, 0]) == sx) & (np.sign(x[:, 1]) == sy)) for sx in (1, -1) for sy in (1, -1)]
    )
    np.testing.assert_allclose(counts / N, 0.25, atol=5 * np.sqrt(0.25 * 0.75 / N))


def test_mixture_log_prob_matches_the_weighted_sum_of_densities(rng: np.random.Generator) -> None:
    params = {
        "weights": [0.2, 0.8],
        "means": [[0.0, 0.0], [2.0, 1.0]],
        "covs": [[[1.0, 0.3], [0.3, 0.5]], [[0.2, 0.0], [0.0, 0.4]]],
    }
    dist = create("gaussian_mixture", params)
    x = rng.normal(size=(200, 2)) * 2
    expected = np.log(
        0.2 * scipy.stats.multivariate_normal([0, 0], params["covs"][0]).pdf(x)
        + 0.8 * scipy.stats.multivariate_normal([2, 1], params["covs"][1]).pdf(x)
    )
    np.testing.assert_allclose(dist.log_prob(x), expected, rtol=1e-10)


def test_uniform_density_and_moments(rng: np.random.Generator) -> None:
    dist = create("uniform", {"low": [-1.0, 2.0], "high": [1.0, 6.0]})
    x = dist.sample(N, rng)
    assert np.all((x >= [-1, 2]) & (x <= [1, 6]))
    mean, cov = _moments(x)
    assert np.all(np.abs(mean - [0, 4]) < 5 * np.sqrt(np.array([4, 16]) / 12 / N)), mean
    np.testing.assert_allclose(np.diag(cov), [4 / 12, 16 / 12], rtol=8 * np.sqrt(0.8 / N))
    np.testing.assert_allclose(dist.log_prob([[0.0, 3.0]]), [-np.log(8.0)])
    assert dist.log_prob([[1.5, 3.0], [0.0, 1.9]]).tolist() == [-np.inf, -np.inf]


@pytest.mark.parametrize("name", ["standard_normal", "gaussian", "gaussian_mixture", "uniform"])
def test_builtins_pass_the_contract_checks(name: str) -> None:
    failures = [r for r in check_plugin(registry.distributions.get(name)) if not r.passed]
    assert not failures, failures


def test_the_checks_catch_a_density_that_does_not_integrate_to_one() -> None:
    from vaetk_plugins.distributions.standard_normal import StandardNormal

    class Unnormalised(StandardNormal):
        def log_prob(self, x):  # type: ignore[no-untyped-def]
            return super().log_prob(x) + 0.1

    failed = {r.check for r in check_plugin(Unnormalised) if not r.passed}
    assert failed == {"log_prob_integrates_to_one"}  # the moment check normalises the density itself


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("gaussian", {"std": [1.0, -0.5]}, r"'std' parameter .* must be > 0"),
        ("gaussian", {"mean": [0, 0, 0], "std": [1, 1]}, r"'std' parameter .* must be a list of 3 numbers"),
        (
            "gaussian",
            {"cov": [[1.0, 2.0], [2.0, 1.0]]},
            r"'cov' .* must be positive definite; its smallest eigenvalue",
        ),
        ("gaussian", {"cov": [[1.0, 0.1], [0.2, 1.0]]}, r"'cov' .* must be a symmetric matrix"),
        ("gaussian", {"std": 1.0, "cov": [[1.0, 0.0], [0.0, 1.0]]}, r"either 'std' or 'cov', not both"),
        (
            "gaussian",
            {"preset": "paper_shifted", "mean": [0, 0]},
            r"preset 'paper_shifted' fixes mean and std",
        ),
        ("gaussian", {"preset": "paper_shiftd"}, r"Did you mean 'paper_shifted'"),
        (
            "gaussian_mixture",
            {"means": [[0, 0], [1, 1]], "weights": [0.5, 0.6]},
            r"summing to 1 .*sum is 1.1",
        ),
        (
            "gaussian_mixture",
            {"means": [[0, 0], [1, 1]], "weights": [1.0]},
            r"'weights' .* a list of 2 numbers",
        ),
        (
            "gaussian_mixture",
            {"means": [[0, 0], [1, 1]], "weights": [1.5, -0.5]},
            r"'weights' .* non-negative",
        ),
        ("gaussian_mixture", {"means": [[0, 0], [1, 1]], "stds": [0.1, -0.1]}, r"'stds\[1\]' .* must be > 0"),
        ("gaussian_mixture", {"means": [[0, 0], [1, 1, 1]]}, r"'means' .* equally long"),
        ("gaussian_mixture", {"stds": [0.1]}, r"'means' is required"),
        ("uniform", {"low": [0, 0], "high": [1, -1]}, r"'high' .* greater than 'low'"),
        ("standard_normal", {"dim": 0}, r"'dim' .* an int >= 1"),
        ("standard_normal", {"dimm": 2}, r"distribution.dimm: unknown key; did you mean 'dim'"),
    ],
)
def test_invalid_parameters_are_clear_errors(name: str, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create(name, params)


def test_unknown_name_suggests() -> None:
    with pytest.raises(PluginNotFoundError, match=r"Did you mean 'gaussian_mixture'"):
        create("gaussian_mixtur")


def test_wrong_shaped_input_to_log_prob() -> None:
    with pytest.raises(ConfigError, match=r"x must have shape \(m, 2\), got shape \(4, 3\)"):
        create("standard_normal").log_prob(np.zeros((4, 3)))


def test_third_party_distribution_through_an_entry_point(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    monkeypatch.syspath_prepend(str(FIXTURE))
    monkeypatch.delitem(sys.modules, "laplace_dist", raising=False)
    group = registry.distributions
    group.refresh()
    try:
        info = group.info("laplace")
        assert info.distribution == "laplace-dist" and info.version == "0.1"
        dist = create("laplace", {"scale": 0.25})
        assert isinstance(dist, Distribution) and type(dist).__module__ == "laplace_dist"
        x = dist.sample(N, rng)
        np.testing.assert_allclose(np.var(x, axis=0), 2 * 0.25**2, rtol=0.05)  # Laplace variance 2 b^2
        failures = [r for r in check_plugin(type(dist)) if not r.passed]
        assert not failures, failures
        with pytest.raises(ConfigError, match=r"distribution: scale must be > 0"):
            create("laplace", {"scale": -1.0})
    finally:
        monkeypatch.undo()
        group.refresh()
    assert "laplace" not in group
