"""VAE loss terms: the Gaussian NLL, both normalisations, the semi-supervised term (eq. 28)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaetk.errors import ConfigError, DataError
from vaetk.models.vae import VAE, gaussian_nll


def test_gaussian_nll_matches_torch_distributions(rng):
    x = torch.as_tensor(rng.normal(size=(5, 3, 4, 6)))
    mean = torch.as_tensor(rng.normal(size=(5, 3, 4, 6)))
    logvar = torch.as_tensor(rng.normal(size=(1, 1, 4, 6)))
    direct = -torch.distributions.Normal(mean, torch.exp(0.5 * logvar)).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(gaussian_nll(x, mean, logvar), direct, rtol=1e-12, atol=1e-12)


def test_normalisations_and_semi_supervised_term(rng, doubles):
    torch.manual_seed(0)
    vae = doubles.make_vae((3, 5, 7), latent_dim=2).double().eval()
    x = torch.as_tensor(rng.normal(size=(6, 3, 5, 7)))
    theta = torch.as_tensor(rng.normal(size=(6, 2)))
    labelled = torch.tensor([True, False, False, True, False, False])
    gen = torch.Generator().manual_seed(3)
    terms = vae.loss_terms(x, theta, labelled, generator=gen)

    # Recompute everything independently with the same noise.
    mu, logvar = vae.encode(x)
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3), dtype=mu.dtype)
    z = mu + torch.exp(0.5 * logvar) * eps
    mean, dec_logvar = vae.decode(z)
    rec = -torch.distributions.Normal(mean, torch.exp(0.5 * dec_logvar)).log_prob(x).flatten(1).sum(1)
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                           torch.distributions.Normal(0.0, 1.0)).sum(1)
    q = torch.distributions.MultivariateNormal(mu, torch.diag_embed(torch.exp(logvar)))
    sup = torch.where(labelled, -q.log_prob(theta), torch.zeros(6, dtype=x.dtype))
    torch.testing.assert_close(terms.rec, rec)
    torch.testing.assert_close(terms.reg, kl)
    torch.testing.assert_close(terms.sup, sup)

    beta, w = 0.3, 2.0
    elbo = terms.objective(beta, "elbo", sup_weight=w)
    torch.testing.assert_close(elbo, (rec + beta * kl).mean() + w * sup[labelled].mean())
    per_pixel = terms.objective(beta, "per_pixel", sup_weight=w)
    torch.testing.assert_close(per_pixel, (rec / 35 + beta * kl / 2).mean() + w * sup[labelled].mean())
    recon_only = terms.objective(beta, "per_pixel", include_reg=False)
    torch.testing.assert_close(recon_only, (rec / 35).mean())

    summary = terms.summary()
    assert summary["rec_elbo"] == pytest.approx(float(rec.detach().mean()), rel=1e-12)
    assert summary["rec_per_pixel"] * 35 == pytest.approx(summary["rec_elbo"], rel=1e-12)
    assert summary["reg_per_pixel"] * 2 == pytest.approx(summary["reg_elbo"], rel=1e-12)
    assert summary["sup_elbo"] == pytest.approx(float(sup.detach().sum() / 2), rel=1e-12)  # mean over labelled only
    assert summary["sup_per_pixel"] == summary["sup_elbo"]


def test_semi_supervised_objective_is_the_authors_eq_28(rng, doubles):
    """The authors' per-pixel objective, in NumPy: mean over the batch of L_REC / (H W) + beta * KL / latent_dim,
    plus -log q(z = theta | y) summed over latent dimensions and averaged over the labelled samples only."""
    torch.manual_seed(1)
    vae = doubles.make_vae((3, 5, 7), latent_dim=2).double().eval()
    x = torch.as_tensor(rng.normal(size=(8, 3, 5, 7)))
    theta = torch.as_tensor(rng.normal(size=(8, 2)))
    labelled = torch.tensor([False, True, False, False, True, True, False, False])
    terms = vae.loss_terms(x, theta, labelled, generator=torch.Generator().manual_seed(4))
    got = float(terms.objective(0.7, "per_pixel", sup_weight=1.0).detach())

    mu, logvar = (t.detach().numpy() for t in vae.encode(x))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64).numpy()
    mean, dec_logvar = (t.detach().numpy() for t in vae.decode(torch.from_numpy(mu + np.exp(0.5 * logvar) * eps)))
    xn, th, lab = x.numpy(), theta.numpy(), labelled.numpy()
    dec_logvar = np.broadcast_to(dec_logvar, xn.shape)
    nll = 0.5 * (np.log(2 * np.pi) + dec_logvar + (xn - mean) ** 2 / np.exp(dec_logvar))
    rec = nll.sum(axis=1).mean(axis=(1, 2))  # summed over channels, averaged over pixels
    kl = 0.5 * (np.exp(logvar) + mu**2 - 1.0 - logvar).mean(axis=1)  # averaged over latent dimensions
    neg_log_q = 0.5 * (np.log(2 * np.pi) + logvar + (th - mu) ** 2 / np.exp(logvar)).sum(axis=1)
    expected = (rec + 0.7 * kl).mean() + neg_log_q[lab].mean()
    assert got == pytest.approx(expected, rel=1e-10, abs=1e-10)
    no_labels = terms.objective(0.7, "per_pixel", sup_weight=0.0).detach()
    assert float(no_labels) == pytest.approx((rec + 0.7 * kl).mean(), rel=1e-10)


def test_semi_supervised_term_is_minimal_at_the_encoder_mean():
    """-log N(theta; mu, sigma^2) = 0.5 * sum(log 2 pi sigma^2 + (theta - mu)^2 / sigma^2) by hand."""
    from vaetk.models.vae import encoder_nll

    mu = torch.tensor([[0.5, -1.0]], dtype=torch.float64)
    logvar = torch.tensor([[math.log(0.25), 0.0]], dtype=torch.float64)
    theta = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    hand = 0.5 * (math.log(2 * math.pi * 0.25) + 0.25 / 0.25) + 0.5 * (math.log(2 * math.pi) + 4.0)
    assert float(encoder_nll(theta, mu, logvar)) == pytest.approx(hand, rel=1e-14)


def test_latent_dim_mismatch_and_shape_errors(doubles):
    with pytest.raises(ConfigError, match=r"latent_dim \(2\) differs from the prior's \(3\)"):
        VAE(doubles.TinyArchitecture(input_shape=(3, 4, 4), latent_dim=2), doubles.ExactNormalPrior(latent_dim=3))
    vae = doubles.make_vae((3, 4, 4))
    with pytest.raises(DataError, match="decoder returned a mean of shape"):
        vae.eval().loss_terms(torch.zeros(2, 3, 2, 8))  # same size, wrong shape
    with pytest.raises(DataError, match=r"theta of shape \(2, 2\)"):
        vae.eval().loss_terms(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3), torch.tensor([True, False]))
