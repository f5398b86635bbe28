"""Built-in priors: closed-form KLs against Monte Carlo with independent densities (torch.distributions), the
hierarchical prior's terms against a hand computation of eqs. 13-14 in NumPy, its Jensen bound against a
quadrature of p(z), the variance convention of the gaussian prior, the authors' loss units, and bad configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from vaetk.config import parse_config
from vaetk.errors import ConfigError, DataError
from vaetk.models.gaussian import diag_gaussian_log_prob, kl_diag_gaussians, kl_to_standard_normal, sample_log_density
from vaetk.models.vae import VAE
from vaetk.registry import registry

StandardNormal = registry.priors.get("standard_normal")
Gaussian = registry.priors.get("gaussian")
Hierarchical = registry.priors.get("hierarchical")

MU = torch.tensor([[0.3, -1.2], [1.5, 0.4], [-0.7, 2.0]], dtype=torch.float64)
LOGVAR = torch.tensor([[-0.5, 0.2], [-1.5, -0.1], [0.4, -2.0]], dtype=torch.float64)


def test_gaussian_helpers_match_torch_distributions() -> None:
    x = torch.tensor([[0.1, 2.0], [-1.0, 0.5], [3.0, -0.2]], dtype=torch.float64)
    ref = Normal(MU, torch.exp(0.5 * LOGVAR)).log_prob(x).sum(-1)
    torch.testing.assert_close(diag_gaussian_log_prob(x, MU, LOGVAR), ref, rtol=1e-12, atol=1e-12)
    p_mu, p_logvar = torch.tensor([0.5, -1.0], dtype=torch.float64), torch.tensor([0.3, 1.1], dtype=torch.float64)
    ref_kl = torch.distributions.kl_divergence(Normal(MU, torch.exp(0.5 * LOGVAR)),
                                               Normal(p_mu, torch.exp(0.5 * p_logvar))).sum(-1)
    torch.testing.assert_close(kl_diag_gaussians(MU, LOGVAR, p_mu, p_logvar), ref_kl, rtol=1e-12, atol=1e-12)
    ref_std = torch.distributions.kl_divergence(Normal(MU, torch.exp(0.5 * LOGVAR)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(MU, LOGVAR), ref_std, rtol=1e-12, atol=1e-12)


def _monte_carlo_kl(log_p, n: int = 200_000) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
    """Per-row KL[q || p] estimate and its standard error, q = N(MU, exp(LOGVAR)), from n samples each."""
    g = torch.Generator().manual_seed(0)
    q = Normal(MU, torch.exp(0.5 * LOGVAR))
    z = MU + torch.exp(0.5 * LOGVAR) * torch.randn(n, *MU.shape, generator=g, dtype=torch.float64)
    diff = q.log_prob(z).sum(-1) - log_p(z)
    return diff.mean(0), diff.std(0) / math.sqrt(n)


@pytest.mark.parametrize(("name", "kwargs", "mean", "std"), [
    ("standard_normal", {}, (0.0, 0.0), (1.0, 1.0)),
    ("gaussian", {}, (0.0, 0.0), (1.0, math.sqrt(2.0))),
    ("gaussian", {"mean": [1.0, -0.5], "variance": [0.25, 2.25]}, (1.0, -0.5), (0.5, 1.5)),
])
def test_analytic_kl_matches_monte_carlo(name: str, kwargs: dict, mean: tuple, std: tuple) -> None:
    cls = registry.priors.get(name)
    prior = cls(parse_config(cls.Config, kwargs, path="prior"), latent_dim=2).double()
    p = Normal(torch.tensor(mean, dtype=torch.float64), torch.tensor(std, dtype=torch.float64))
    estimate, stderr = _monte_carlo_kl(lambda z: p.log_prob(z).sum(-1))
    z = MU + torch.exp(0.5 * LOGVAR) * 0.3
    kl = prior.regularization(z, MU, LOGVAR)["total"]
    assert torch.all((kl - estimate).abs() < 5 * stderr + 1e-12), (kl, estimate, stderr)


def test_gaussian_prior_default_is_the_authors_variances() -> None:
    """The paper's "N(0, diag(1, 2))": the authors' code sets prior_logvar = [log 1, log 2], i.e. variances."""
    prior = Gaussian(Gaussian.Config(), latent_dim=2).double()
    samples = prior.sample(200_000, torch.Generator().manual_seed(1))
    # Sample variance of N(0, v) has standard error v * sqrt(2 / n), about 0.0032 * v here.
    torch.testing.assert_close(samples.var(0), torch.tensor([1.0, 2.0], dtype=torch.float64), rtol=0.015, atol=0)
    torch.testing.assert_close(samples.mean(0), torch.zeros(2, dtype=torch.float64), rtol=0, atol=0.02)
    broadcast = Gaussian(Gaussian.Config(mean=(0.5,), variance=(3.0,)), latent_dim=3)
    assert torch.equal(broadcast.mean, torch.full((3,), 0.5))
    torch.testing.assert_close(broadcast.logvar, torch.full((3,), math.log(3.0)))


def test_gaussian_prior_kl_is_the_authors_formula() -> None:
    """KL[N(mu, diag(exp(lv))) || N(0, diag(exp(prior_logvar)))] with prior_logvar = [log 1, log 2], in NumPy."""
    rng = np.random.default_rng(3)
    mu, lv = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    prior_logvar = np.log([1.0, 2.0])
    expected = 0.5 * (np.exp(lv - prior_logvar) + mu**2 / np.exp(prior_logvar) - 1.0 - lv + prior_logvar).sum(1)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # built in float64, so log 2 is not first rounded to float32
    try:
        prior = Gaussian(Gaussian.Config(), latent_dim=2)
    finally:
        torch.set_default_dtype(previous)
    mu_t, lv_t = torch.from_numpy(mu), torch.from_numpy(lv)
    got = prior.regularization(mu_t, mu_t, lv_t)["total"].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_gaussian_prior_is_not_rotation_invariant_but_standard_normal_is() -> None:
    """Rotating q by 90 degrees leaves the standard-normal KL unchanged and changes the diag(1, 2) one."""
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, -2.0]])
    mu_rot, logvar_rot = torch.tensor([[0.0, 1.0]]), torch.tensor([[-2.0, 0.0]])
    std_normal = StandardNormal(StandardNormal.Config(), latent_dim=2)
    gauss = Gaussian(Gaussian.Config(), latent_dim=2)
    a, b = (std_normal.regularization(m, m, lv)["total"] for m, lv in ((mu, logvar), (mu_rot, logvar_rot)))
    torch.testing.assert_close(a, b)
    a, b = (gauss.regularization(m, m, lv)["total"] for m, lv in ((mu, logvar), (mu_rot, logvar_rot)))
    assert float((a - b).abs()) > 0.1


@pytest.mark.parametrize(("kwargs", "latent_dim", "words"), [
    ({"variance": [1.0, 2.0]}, 3, ["'variance'", "latent_dim = 3", "(1.0, 2.0)"]),
    ({"variance": [1.0, -2.0]}, 2, ["'variance'", "positive"]),
    ({"mean": [0.0, 1.0, 2.0]}, 2, ["'mean'", "latent_dim = 2"]),
])
def test_gaussian_bad_config_is_config_error(kwargs: dict, latent_dim: int, words: list[str]) -> None:
    with pytest.raises(ConfigError) as excinfo:
        Gaussian(parse_config(Gaussian.Config, kwargs, path="prior"), latent_dim=latent_dim)
    for word in words:
        assert word in str(excinfo.value)
    assert "prior 'gaussian'" in str(excinfo.value)


@pytest.mark.parametrize(("table", "match"), [
    ({"hiden": [16]}, r"prior\.hiden: unknown key; did you mean 'hidden'\?"),
    ({"entropy": "analitic"}, r"prior\.entropy: expected one of 'sample', 'analytic'.*Did you mean 'analytic'\?"),
    ({"decoder": "as_publshed"}, r"prior\.decoder: expected one of 'corrected', 'as_published'.*Did you mean"),
])
def test_hierarchical_bad_toml_is_config_error(table: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(Hierarchical.Config, table, path="prior")


@pytest.mark.parametrize(("kwargs", "word"), [({"hidden": (16, -4)}, "'hidden'"), ({"xi_dim": 0}, "'xi_dim'")])
def test_hierarchical_negative_sizes_are_config_errors(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        Hierarchical(Hierarchical.Config(**kwargs), latent_dim=2)


def test_latent_dim_mismatch_is_reported() -> None:
    small = registry.architectures.get("small")
    arch = small(small.Config(), input_shape=(3, 9, 9), latent_dim=3)
    prior = Hierarchical(Hierarchical.Config(), latent_dim=2)
    with pytest.raises(ConfigError, match=r"architecture's latent_dim \(3\) differs from the prior's \(2\)"):
        VAE(arch, prior)
    z = torch.zeros(4, 3)
    with pytest.raises(DataError, match=r"prior 'hierarchical'\.regularization: z must have shape \(B, 2\), got "
                                        r"\(4, 3\)"):
        prior.regularization(z, z, z)
    with pytest.raises(DataError, match=r"expected data of shape \(B, 3, 9, 9\).*input_shape"):
        VAE(arch, Hierarchical(Hierarchical.Config(), latent_dim=3)).loss_terms(torch.zeros(2, 3, 9, 10))


# -- hierarchical prior: eqs. 13-14 by hand --------------------------------------------------------------------
def _mlp_numpy(state: dict[str, np.ndarray], prefix: str, x: np.ndarray, *, final_relu: bool = False) -> np.ndarray:
    """A ReLU MLP from its Linear weights (keys prefix.0, prefix.2, ...), last layer linear unless final_relu."""
    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith(prefix + ".")})
    for j, i in enumerate(indices):
        x = x @ state[f"{prefix}.{i}.weight"].T + state[f"{prefix}.{i}.bias"]
        if j < len(indices) - 1 or final_relu:
            x = np.maximum(x, 0.0)
    return x


def _log_normal(x: np.ndarray, mean: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    return np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * logvar - 0.5 * (x - mean) ** 2 / np.exp(logvar), axis=-1)


@pytest.mark.parametrize("decoder", ["corrected", "as_published"])
@pytest.mark.parametrize("entropy", ["sample", "analytic"])
def test_hierarchical_terms_match_hand_computation(decoder: str, entropy: str) -> None:
    final_relu = decoder == "as_published"
    torch.manual_seed(3)
    prior = Hierarchical(Hierarchical.Config(decoder=decoder, entropy=entropy), latent_dim=2).double()
    with torch.no_grad():
        prior.encoder_logvar.copy_(torch.tensor([-0.3, 0.2]))
        prior.decoder_logvar.copy_(torch.tensor([0.1, -0.5]))
        [m for m in prior.decoder_net if isinstance(m, torch.nn.Linear)][-1].bias.copy_(torch.tensor([-0.15, 0.05]))
    z = MU + torch.exp(0.5 * LOGVAR) * torch.tensor([[0.5, -1.0], [1.2, 0.3], [-0.4, 0.8]], dtype=torch.float64)
    torch.manual_seed(5)
    terms = {k: v.detach().numpy() for k, v in prior.regularization(z, MU, LOGVAR).items()}
    torch.manual_seed(5)
    eps = torch.randn(3, 2, dtype=torch.float64).numpy()  # the prior draws exactly this for xi

    state = {k: v.numpy() for k, v in prior.state_dict().items()}
    zn, mu, logvar = z.numpy(), MU.numpy(), LOGVAR.numpy()
    if entropy == "sample":  # eq. 13, first term: log q(z|y) at the sample
        log_q = _log_normal(zn, mu, logvar)
    else:  # its exact expectation: minus the entropy of q(z|y)
        log_q = -0.5 * np.sum(np.log(2 * np.pi * np.e) + logvar, axis=-1)
    xi_mean, xi_logvar = _mlp_numpy(state, "encoder_net", zn), state["encoder_logvar"]
    kl_xi = 0.5 * np.sum(np.exp(xi_logvar) + xi_mean ** 2 - 1 - xi_logvar, axis=-1)  # eq. 13, second term
    xi = xi_mean + np.exp(0.5 * xi_logvar) * eps
    z_mean = _mlp_numpy(state, "decoder_net", xi, final_relu=final_relu)
    if final_relu:
        pre = _mlp_numpy(state, "decoder_net", xi)
        assert (pre < 0).any(), "the fixed network must exercise the final ReLU"
    nll = -_log_normal(zn, z_mean, state["decoder_logvar"])  # eq. 14
    for key, expected in (("log_q_z", log_q), ("kl_xi", kl_xi), ("nll_z_given_xi", nll),
                          ("total", log_q + kl_xi + nll)):
        np.testing.assert_allclose(terms[key], expected, rtol=1e-12, atol=1e-12, err_msg=key)


def test_hierarchical_bound_is_above_the_true_kl() -> None:
    """Jensen (eq. 12): E_xi[total] - (log q(z|y) - log p(z)) = KL[q(xi|z) || p(xi|z)] >= 0 for every z, with p(z)
    from a Gauss-Hermite quadrature of p(z) = E_{xi ~ N(0, I)}[p(z|xi)]."""
    torch.manual_seed(8)
    prior = Hierarchical(Hierarchical.Config(entropy="sample"), latent_dim=2).double()
    n = 4000
    g = torch.Generator().manual_seed(9)
    mu, logvar = MU[:1].expand(n, 2), LOGVAR[:1].expand(n, 2)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(n, 2, generator=g, dtype=torch.float64)
    torch.manual_seed(10)
    with torch.no_grad():
        terms = prior.regularization(z, mu, logvar)
        nodes, weights = np.polynomial.hermite_e.hermegauss(60)  # weight exp(-x^2/2), sums to sqrt(2 pi)
        weights = weights / math.sqrt(2 * math.pi)
        grid = torch.tensor(np.stack(np.meshgrid(nodes, nodes, indexing="ij"), -1).reshape(-1, 2))
        w = torch.tensor(np.outer(weights, weights).reshape(-1))
        dec_mean, dec_logvar = prior.prior_decoder(grid)
        log_p_z_xi = diag_gaussian_log_prob(z[:, None, :], dec_mean[None], dec_logvar)
        log_p_z = torch.logsumexp(log_p_z_xi + torch.log(w)[None], dim=1)
    gap = terms["total"] - (diag_gaussian_log_prob(z, mu, logvar) - log_p_z)
    mean, stderr = float(gap.mean()), float(gap.std() / math.sqrt(n))
    assert mean > -4 * stderr, (mean, stderr)
    assert mean > 0.01  # an untrained q(xi|z) is far from the true posterior: the bound is not tight


def test_as_published_prior_decoder_is_the_network_that_ran() -> None:
    """2 -> 16 -> ReLU -> 2 -> ReLU: 82 parameters, means >= 0; the corrected 2-16-16-2 network has 354."""
    published = Hierarchical(Hierarchical.Config(decoder="as_published"), latent_dim=2)
    corrected = Hierarchical(Hierarchical.Config(), latent_dim=2)
    n_params = [sum(p.numel() for p in prior.decoder_net.parameters()) for prior in (published, corrected)]
    assert n_params == [2 * 16 + 16 + 16 * 2 + 2, 354]
    layers = [type(m).__name__ for m in published.decoder_net]
    assert layers == ["Linear", "ReLU", "Linear", "ReLU"]
    assert [tuple(m.weight.shape) for m in published.decoder_net if isinstance(m, torch.nn.Linear)] == [(16, 2),
                                                                                                       (2, 16)]
    xi = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mean_pub, _ = published.prior_decoder(xi)
        mean_cor, _ = corrected.prior_decoder(xi)
        pre = published.decoder_net[:3](xi)
    assert bool((mean_pub >= 0).all()) and bool((pre < 0).any())  # the output ReLU clips
    assert bool((mean_cor < 0).any())
    torch.testing.assert_close(mean_pub, pre.clamp(min=0))


def test_hierarchical_sample_is_ancestral() -> None:
    """With the decoder MLP zeroed except its output bias, p(z) = N(bias, exp(decoder_logvar)) exactly."""
    prior = Hierarchical(Hierarchical.Config(), latent_dim=2).double()
    with torch.no_grad():
        for p in prior.decoder_net.parameters():
            p.zero_()
        prior.decoder_net[-1].bias.copy_(torch.tensor([1.5, -2.0]))
        prior.decoder_logvar.copy_(torch.tensor([math.log(0.25), math.log(4.0)]))
        samples = prior.sample(100_000, torch.Generator().manual_seed(2))
    torch.testing.assert_close(samples.mean(0), torch.tensor([1.5, -2.0], dtype=torch.float64), rtol=0, atol=0.03)
    torch.testing.assert_close(samples.std(0), torch.tensor([0.5, 2.0], dtype=torch.float64), rtol=0.015, atol=0)


def test_authors_normalizer_gives_the_effective_betas_of_design_md() -> None:
    pixels = 65 * 65
    plain = StandardNormal(StandardNormal.Config(), latent_dim=2)
    hierarchical = Hierarchical(Hierarchical.Config(), latent_dim=2)
    assert pixels / plain.authors_normalizer() == 2112.5
    assert pixels / hierarchical.authors_normalizer() == 4225.0


def test_sample_log_density_equals_the_gaussian_density_and_survives_a_collapsed_posterior() -> None:
    """Bit for bit diag_gaussian_log_prob where exp(-logvar) is representable; where it overflows float32 (a
    posterior collapsed in an unregularised reconstruction phase) the residual's expectation is used, so the
    hierarchical prior's L_REG and its gradients stay finite instead of 0 * inf."""
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(16, 2, generator=g)
    logvar = torch.linspace(-80, 3, 32).view(16, 2)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(16, 2, generator=g)
    assert torch.equal(sample_log_density(z, mu, logvar), diag_gaussian_log_prob(z, mu, logvar))

    collapsed = torch.tensor([[-200.0, 0.5]], requires_grad=True)
    m = torch.tensor([[0.3, -0.2]])
    zc = m + torch.exp(0.5 * collapsed) * torch.tensor([[0.7, 1.1]])
    assert not torch.isfinite(diag_gaussian_log_prob(zc, m, collapsed)).all()
    expected = -0.5 * (2 * math.log(2 * math.pi) - 200.0 + 1.0 + 0.5 + 1.1**2)
    value = sample_log_density(zc, m, collapsed).detach()
    assert float(value) == pytest.approx(expected, rel=1e-6)

    Hierarchical = registry.priors.get("hierarchical")
    prior = Hierarchical(Hierarchical.Config(), latent_dim=2)
    reg = prior.regularization(zc, m, collapsed)["total"]
    reg.sum().backward()
    assert torch.isfinite(reg).all() and torch.isfinite(collapsed.grad).all()
    assert float(collapsed.grad[0, 0]) == pytest.approx(-0.5)  # the analytic entropy's pull on logvar
