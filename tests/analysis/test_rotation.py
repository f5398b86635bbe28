"""Latent rotation: reconstruction unchanged, rotation-invariant prior unchanged, closed forms for a Gaussian."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vaetk_plugins.priors.gaussian import GaussianPrior
from vaetk_plugins.priors.hierarchical import HierarchicalPrior
from vaetk_plugins.priors.standard_normal import StandardNormalPrior

from vaetk.analysis import (
    encoder_means,
    plot_rotation,
    prepared_for_eval,
    rotated_regularization,
    rotation_matrix,
    rotation_scan,
)
from vaetk.errors import ConfigError

from ._tiny import tiny_data, tiny_vae, train_briefly

OMEGAS = [0.0, 0.3, math.pi / 4, 1.2, math.pi / 2]


def _sd(latents, factors):
    z, t = latents - latents.mean(0), factors - factors.mean(0)
    c = np.abs(z.T @ t)
    return float(np.mean(c.max(1) / c.sum(1)))


def _full_cov_kl(mu, var, a, m, d):
    """KL[N(A mu, A diag(var) A^T) || N(m, diag(d))] per sample, with full matrices (float64)."""
    out = []
    for mu_i, var_i in zip(mu, var, strict=True):
        cov = a @ np.diag(var_i) @ a.T
        diff = m - a @ mu_i
        out.append(0.5 * (np.trace(cov / d[:, None]) + diff @ (diff / d) - len(m) + np.log(d).sum()
                          - np.linalg.slogdet(cov)[1]))
    return np.array(out)


def test_rotation_matrix():
    a = rotation_matrix(3, 0.7, (0, 2))
    torch.testing.assert_close(a @ a.T, torch.eye(3, dtype=torch.float64))
    assert float(torch.linalg.det(a)) == pytest.approx(1.0)
    assert a[1, 1] == 1 and a[0, 2] == pytest.approx(-math.sin(0.7))
    with pytest.raises(ConfigError, match="distinct axes"):
        rotation_matrix(2, 0.1, (0, 0))


@pytest.fixture(scope="module")
def data():
    return tiny_data()


def test_standard_normal_rotation_changes_neither_reconstruction_nor_regularisation(data):
    x, theta = data
    vae = train_briefly(tiny_vae(StandardNormalPrior, 1), x)
    res = rotation_scan(vae, x, OMEGAS, theta=theta, scores={"sd": _sd}, n_latent_samples=2)
    assert res.omega.shape == res.reg_elbo.shape == res.rec_elbo.shape == res.scores["sd"].shape == (5,)
    np.testing.assert_allclose(res.rec_elbo, res.rec_elbo[0], rtol=1e-5)
    np.testing.assert_allclose(res.reg_elbo, res.reg_elbo[0], rtol=1e-5)
    np.testing.assert_allclose(res.rec_per_pixel, res.rec_elbo / 16)
    # S_D of the rotated encoder means, computed independently
    mu = encoder_means(vae, x)
    for w, sd in zip(OMEGAS, res.scores["sd"], strict=True):
        a = rotation_matrix(2, w).numpy()
        assert sd == pytest.approx(_sd(mu @ a.T, theta.double().numpy()), rel=1e-9)


def test_non_invariant_gaussian_prior_matches_the_full_covariance_kl(data):
    x, _ = data
    cfg = GaussianPrior.Config(mean=(0.5, -0.5), variance=(1.0, 9.0))
    vae = train_briefly(tiny_vae(GaussianPrior, 2, prior_config=cfg), x)
    res = rotation_scan(vae, x, OMEGAS, n_latent_samples=1)
    with prepared_for_eval(vae, x) as model, torch.no_grad():  # the scan's BatchNorm treatment
        mu, logvar = model.encode(x)
    mu, var = mu.double().numpy(), logvar.exp().double().numpy()
    for w, reg in zip(OMEGAS, res.reg_elbo, strict=True):
        expected = _full_cov_kl(mu, var, rotation_matrix(2, w).numpy(), np.array([0.5, -0.5]), np.array([1.0, 9.0]))
        assert reg == pytest.approx(expected.mean(), rel=1e-5)
    assert np.ptp(res.reg_elbo) > 1e-3  # a non-rotation-invariant prior prefers an orientation
    np.testing.assert_allclose(res.rec_elbo, res.rec_elbo[0], rtol=1e-5)


def test_isotropic_posteriors_need_no_correction_for_any_prior():
    torch.manual_seed(0)
    prior = HierarchicalPrior(HierarchicalPrior.Config(), latent_dim=2)
    z, mu = torch.randn(6, 2), torch.randn(6, 2)
    logvar = torch.full((6, 2), -1.3)
    a = rotation_matrix(2, 0.9, dtype=torch.float32)
    torch.manual_seed(1)  # the hierarchical prior draws xi from the global generator
    got = rotated_regularization(prior, z, mu, logvar, a)
    torch.manual_seed(1)
    expected = prior.regularization(z @ a.T, mu @ a.T, logvar)["total"]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_default_angles_and_plot(data):
    x, theta = data
    vae = tiny_vae(StandardNormalPrior, 3)
    res = rotation_scan(vae, x, 4, theta=theta, scores={"sd": _sd}, n_latent_samples=1, batchnorm="eval")
    np.testing.assert_allclose(np.degrees(res.omega), [0, 30, 60, 90])
    # a quarter turn swaps the axes (up to sign): S_D is the same at 0 and 90 degrees
    assert res.scores["sd"][0] == pytest.approx(res.scores["sd"][-1])
    fig = plot_rotation(res)
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(ConfigError, match="omegas"):
        rotation_scan(vae, x, [float("inf")])
