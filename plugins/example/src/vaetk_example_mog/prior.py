"""A learnable mixture-of-Gaussians prior for vaetk."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from vaetk.plugin import Prior, check_param, diag_gaussian_log_prob, sample_log_density

__all__ = ["MixtureOfGaussiansPrior"]


class MixtureOfGaussiansPrior(Prior):
    """p(z) = sum_k w_k N(z; m_k, diag(exp(s_k))) with learnable means, log-variances and weights.

    There is no closed-form KL to a mixture, so ``regularization`` returns the one-sample estimate
    log q(z|x) - log p(z) at the given z (unbiased for the KL, but single samples can be negative).
    """

    name: ClassVar[str] = "mixture_of_gaussians"
    exact_kl: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`MixtureOfGaussiansPrior`.

        Attributes
        ----------
        n_components : int
            Number of mixture components.
        init_spread : float
            Initial means are drawn from N(0, init_spread^2) with the global torch RNG (seed it).
        init_std : float
            Initial standard deviation of every component.
        """

        n_components: int = 4
        init_spread: float = 1.0
        init_std: float = 0.5

        def __post_init__(self) -> None:
            owner = "prior 'mixture_of_gaussians'"
            check_param(self.n_components >= 1, "n_components", "an int in the range [1, inf)",
                        self.n_components, owner)
            check_param(self.init_spread >= 0, "init_spread", "a number >= 0", self.init_spread, owner)
            check_param(self.init_std > 0, "init_std", "a positive number", self.init_std, owner)

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, latent_dim: int) -> None:
        super().__init__(config, latent_dim=latent_dim)  # parses a mapping; Config.__post_init__ checked it
        config = self.config
        k = config.n_components
        self.means = nn.Parameter(torch.randn(k, latent_dim) * config.init_spread)
        self.logvars = nn.Parameter(torch.full((k, latent_dim), 2 * math.log(config.init_std)))
        self.logits = nn.Parameter(torch.zeros(k))

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) for z of shape (B, latent_dim), shape (B,)."""
        per_component = diag_gaussian_log_prob(z[:, None, :], self.means[None], self.logvars[None])
        return torch.logsumexp(per_component + torch.log_softmax(self.logits, 0)[None], dim=1)

    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        self.check_latents(z, mu, logvar)
        log_q = sample_log_density(z, mu, logvar)
        log_p = self.log_prob(z)
        return {"total": log_q - log_p, "log_q_z": log_q, "log_p_z": log_p}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        self.check_n(n)
        if n == 0:
            return self.means.new_zeros(0, self.latent_dim)
        weights = torch.softmax(self.logits, 0)
        component = torch.multinomial(weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.means.device,
                          dtype=self.means.dtype)
        return self.means[component] + torch.exp(0.5 * self.logvars[component]) * eps
