"""S_D (eq. 6) against closed forms on factor designs with exactly zero sample cross-covariance."""

from __future__ import annotations

import numpy as np
import pytest
from vaetk_plugins.metrics.sd import SD

from vaetk.errors import ConfigError, DataError, PluginNotFoundError
from vaetk.metrics import evaluate_metric


def grid_factors(stds=(1.0, 1.0), m: int = 41) -> np.ndarray:
    """A full-factorial grid: the sample covariance of the two factors is exactly diagonal."""
    a, b = np.meshgrid(np.linspace(-1, 1, m) * stds[0], np.linspace(-1, 1, m) * stds[1], indexing="ij")
    theta = np.column_stack([a.ravel(), b.ravel()])
    return theta / theta.std(axis=0, ddof=1) * np.asarray(stds)


def rotation(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def sd(z, theta, **cfg) -> float:
    return SD(SD.Config(**cfg))(z, theta, np.random.default_rng(0))["sd"]


def test_permuted_scaled_shifted_copy_scores_one() -> None:
    theta = grid_factors()
    z = theta[:, ::-1] * np.array([-3.0, 0.2]) + np.array([10.0, -1.0])
    assert sd(z, theta) == pytest.approx(1.0, abs=1e-12)
    assert sd(z, theta, normalize="corr") == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("deg", [0.0, 10.0, 20.0, 30.0, 45.0])
def test_rotation_matches_closed_form(deg: float) -> None:
    # cov(z_i, theta_j) = R_ij for unit-variance uncorrelated factors: r_i = 1 / (1 + tan(deg)) for deg <= 45
    theta = grid_factors()
    z = theta @ rotation(deg).T
    assert sd(z, theta) == pytest.approx(1.0 / (1.0 + np.tan(np.deg2rad(deg))), abs=1e-12)


def test_monotone_from_zero_to_45_degrees() -> None:
    rng = np.random.default_rng(5)
    theta = rng.standard_normal((4000, 2))
    scores = [sd(theta @ rotation(d).T, theta) for d in np.linspace(0, 45, 10)]
    assert np.all(np.diff(scores) < 0), scores
    assert scores[-1] == pytest.approx(0.5, abs=0.02)


def test_cov_weights_factors_by_variance_corr_does_not() -> None:
    # factor variances 1 and 100, code rotated 45 deg: |cov| rows give 100/101, |corr| rows give 10/11
    theta = grid_factors(stds=(1.0, 10.0))
    z = theta @ rotation(45.0).T
    assert sd(z, theta, normalize="cov") == pytest.approx(100.0 / 101.0, abs=1e-12)
    assert sd(z, theta, normalize="corr") == pytest.approx(10.0 / 11.0, abs=1e-12)


def test_constant_latent_dimension_policy() -> None:
    theta = grid_factors()
    z = np.column_stack([theta[:, 0], np.full(len(theta), 0.3)])
    full = SD()(z, theta, 0)
    assert full["sd"] == pytest.approx(0.75, abs=1e-12) and full["active_dims"] == 1.0
    assert sd(z, theta, inactive="exclude") == pytest.approx(1.0, abs=1e-12)
    assert sd(z, theta, normalize="corr") == pytest.approx(0.75, abs=1e-12)
    dead = np.full_like(theta, 2.0)
    assert sd(dead, theta) == 0.5 and sd(dead, theta, inactive="exclude") == 0.5


def test_range_on_random_codes() -> None:
    rng = np.random.default_rng(11)
    for s, dz in [(2, 2), (3, 5), (4, 1)]:
        theta = rng.standard_normal((300, s))
        z = theta @ rng.standard_normal((s, dz)) + rng.standard_normal((300, dz))
        value = sd(z, theta)
        assert 1.0 / s <= value <= 1.0


def test_all_constant_factors_is_an_error() -> None:
    with pytest.raises(DataError, match="every factor is constant"):
        sd(np.random.default_rng(0).standard_normal((10, 2)), np.ones((10, 2)))


def test_bad_config_values_are_rejected_with_suggestion() -> None:
    theta = grid_factors(m=5)
    with pytest.raises(ConfigError, match="normalise.*did you mean 'normalize'"):
        evaluate_metric("sd", theta, theta, config={"normalise": "corr"})
    with pytest.raises(ConfigError, match="normalize"):
        evaluate_metric("sd", theta, theta, config={"normalize": "corrr"})
    with pytest.raises(PluginNotFoundError, match="Did you mean 'sd'"):
        evaluate_metric("sdd", theta, theta)


def test_evaluate_metric_bootstrap_and_provenance() -> None:
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((400, 2))
    z = theta @ rotation(20.0).T + 0.1 * rng.standard_normal((400, 2))
    res = evaluate_metric("sd", z, theta, n_bootstrap=50, seed=4)
    again = evaluate_metric("sd", z, theta, n_bootstrap=50, seed=4)
    assert res == again
    lo, hi = res.intervals["sd"]
    assert lo < res.value < hi and hi - lo < 0.1
    assert res.config == {"normalize": "cov", "inactive": "floor"}
    assert {"numpy", "scipy", "vaetk", "python"} <= set(res.versions)
    assert res.to_dict()["intervals"]["sd"] == [lo, hi]
