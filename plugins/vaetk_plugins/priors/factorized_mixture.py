"""A factorised prior p(z) = prod_i p_i(z_i) whose 1-D marginals are learnable Gaussian mixtures."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vaetk.plugin import LOG_2PI, ComponentError, Prior, check_param, sample_log_density

__all__ = ["FactorizedMixturePrior"]


class FactorizedMixturePrior(Prior):
    """p(z) = prod_i sum_k w_ik N(z_i; m_ik, s_ik^2), a product of learnable 1-D mixtures of K Gaussians.

    Every latent dimension i has its own K means ``m``, scales ``s`` and weights ``w`` (parameters of shape
    (latent_dim, K), trained jointly with the VAE); K is the config value ``n_components``.

    Why it identifies axes: a product of non-Gaussian marginals is not rotation-invariant. When the generative
    factors are independent and non-Gaussian (the paper's 4-mode p(theta) is a product of two bimodal marginals),
    the cross-entropy of the aggregated posterior under a factorised prior is smallest when the latent axes are
    the factors themselves, up to permutation, sign and scale, as in independent component analysis. With K = 1
    the marginals are Gaussian, the product is a Gaussian with diagonal covariance, and only unequal scales break
    the rotation symmetry (equal scales leave it rotation-invariant).

    Estimator: there is no closed-form KL to a mixture, so ``regularization`` returns the one-sample estimate
    log q(z|x) - log p(z) at the given reparameterised z (``"total"``; ``"log_q_z"`` and ``"log_p_z"`` are its
    parts). It is unbiased for KL[q(z|x) || p(z)], but single samples can be negative. log q(z|x) comes from
    :func:`vaetk.models.gaussian.sample_log_density` (safe for a collapsed posterior variance), log p(z) is the
    exact mixture density, a logsumexp over components summed over dimensions.

    Parameterisation (numerically safe): s = min_scale + softplus(raw_scale), so a collapsing component stops at
    ``min_scale`` with finite values and gradients; w = softmax(logits) over the K components.

    Initialisation (deterministic, no random numbers): in every dimension the K means are spread evenly over
    [-init_spread, init_spread] (0 when K = 1), all scales are ``init_scale`` and the weights equal. Distinct
    means break the symmetry between components; all dimensions start with the same marginal.
    """

    name: ClassVar[str] = "factorized_mixture"
    exact_kl: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`FactorizedMixturePrior`.

        Attributes
        ----------
        n_components : int
            Number K of Gaussian components of each 1-D marginal, >= 1 (1: a learnable diagonal Gaussian).
        init_spread : float
            Initial means are spread evenly over [-init_spread, init_spread] in each dimension, >= 0.
        init_scale : float
            Initial standard deviation of every component, > min_scale.
        min_scale : float
            Lower bound of every component's standard deviation, > 0 (keeps log p(z) finite when one collapses).
        """

        n_components: int = 2
        init_spread: float = 1.0
        init_scale: float = 0.5
        min_scale: float = 1e-3

        def __post_init__(self) -> None:
            owner = "prior 'factorized_mixture'"
            k = self.n_components
            check_param(isinstance(k, int) and not isinstance(k, bool) and k >= 1, "n_components",
                        "an int in the range [1, inf)", k, owner)
            check_param(math.isfinite(self.init_spread) and self.init_spread >= 0, "init_spread",
                        "a finite number >= 0", self.init_spread, owner)
            check_param(math.isfinite(self.min_scale) and self.min_scale > 0, "min_scale", "a positive number",
                        self.min_scale, owner)
            check_param(math.isfinite(self.init_scale) and self.init_scale > self.min_scale, "init_scale",
                        f"a finite number > min_scale = {self.min_scale}", self.init_scale, owner)

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, latent_dim: int) -> None:
        super().__init__(config, latent_dim=latent_dim)
        config = self.config
        k = config.n_components
        means = torch.linspace(-config.init_spread, config.init_spread, k) if k > 1 else torch.zeros(1)
        excess = torch.tensor(config.init_scale - config.min_scale, dtype=torch.float64)
        raw = excess + torch.log(-torch.expm1(-excess))  # softplus^-1, stable for large and small excess
        self.means = nn.Parameter(means.expand(latent_dim, k).clone())
        self.raw_scales = nn.Parameter(raw.to(torch.get_default_dtype()).expand(latent_dim, k).clone())
        self.logits = nn.Parameter(torch.zeros(latent_dim, k))

    def _check_parameters(self) -> None:
        """Raise ComponentError if a parameter holds NaN or inf (it diverged: the loss would be NaN)."""
        params = (self.means, self.raw_scales, self.logits)
        if bool(torch.isfinite(torch.stack([p.detach().sum() for p in params])).all()):
            return
        for label, p in zip(("means", "raw_scales", "logits"), params, strict=True):
            if not bool(torch.isfinite(p).all()):
                raise ComponentError(f"{self.owner()}: parameter {label!r} is not finite ({p.detach().tolist()}); "
                                     "training diverged (lower the learning rate or raise min_scale).")

    def mixture_parameters(self, dtype: torch.dtype | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Means, scales and log-weights of every marginal, each (latent_dim, K), in ``dtype``."""
        dtype = dtype or self.means.dtype
        scales = self.config.min_scale + F.softplus(self.raw_scales.to(dtype))
        return self.means.to(dtype), scales, torch.log_softmax(self.logits.to(dtype), dim=-1)

    def log_prob(self, z: Tensor) -> Tensor:
        """Exact log p(z) for z of shape (B, latent_dim), shape (B,) (nats, summed over dimensions)."""
        self._check_parameters()
        means, scales, log_w = self.mixture_parameters(z.dtype)
        u = (z[..., None] - means) / scales  # (B, latent_dim, K)
        log_comp = log_w - torch.log(scales) - 0.5 * (LOG_2PI + u * u)
        return torch.logsumexp(log_comp, dim=-1).sum(-1)

    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        self.check_latents(z, mu, logvar)
        log_q = sample_log_density(z, mu, logvar)
        log_p = self.log_prob(z)
        return {"total": log_q - log_p, "log_q_z": log_q, "log_p_z": log_p}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Exact samples: in each dimension a component k ~ w_i, then z_i = m_ik + s_ik * eps."""
        self.check_n(n)
        self._check_parameters()
        means, scales, log_w = self.mixture_parameters()
        if n == 0:
            return means.new_zeros(0, self.latent_dim)
        component = torch.multinomial(log_w.exp(), n, replacement=True, generator=generator).T  # (n, latent_dim)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=means.device, dtype=means.dtype)
        dims = torch.arange(self.latent_dim, device=means.device)
        return means[dims, component] + scales[dims, component] * eps
