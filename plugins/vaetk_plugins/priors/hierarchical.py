"""The hierarchical prior of the paper (section 2.3, eqs. 10-15; Klushyn et al. 2019).

p(z) = E_{xi ~ q(xi|z)}[p(z|xi) p(xi) / q(xi|z)] with a prior encoder q(xi|z), a prior decoder p(z|xi) and the
sub-prior p(xi) = N(0, I). Jensen's inequality turns L_REG into the upper bound (eqs. 13-14)

    E[log q(z|y)] + E[KL[q(xi|z) || p(xi)]] - E_{q(xi|z)}[log p(z|xi)],

estimated per sample with the given z ~ q(z|y) and one xi ~ q(xi|z). The prior networks are trained jointly
with the VAE (they are parameters of this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from vaetk.plugin import LOG_2PI, Prior, check_param, diag_gaussian_log_prob, kl_to_standard_normal, sample_log_density

from ..architectures._layers import ACTIVATIONS, mlp

__all__ = ["HierarchicalPrior"]


class HierarchicalPrior(Prior):
    """Learned hierarchical prior with MLP prior encoder q(xi|z) and prior decoder p(z|xi).

    q(xi|z) = N(f(z), diag(exp(s))) and p(z|xi) = N(g(xi), diag(exp(t))), where f and g are MLPs
    (``latent_dim -> hidden... -> xi_dim`` and back; the paper's 2-16-16-2) and s, t are learned constant
    log-variances. ``regularization`` returns the terms of eqs. 13-14 for each sample:

    - ``"log_q_z"``: log q(z|y) at the given z (``entropy = "sample"``, one-sample estimate as in eq. 13) or its
      exact expectation, minus the entropy of q(z|y) (``entropy = "analytic"``, lower variance);
    - ``"kl_xi"``: KL[q(xi|z) || N(0, I)], in closed form given z;
    - ``"nll_z_given_xi"``: -log p(z|xi) with one xi = f(z) + exp(s/2) * eps, eps drawn by a single
      ``torch.randn(B, xi_dim)`` call on the global RNG (seed it for reproducibility);
    - ``"total"``: their sum, an estimate of an upper bound on KL[q(z|y) || p(z)]. It is not a KL: single
      samples can be negative.

    ``decoder = "as_published"`` builds the prior decoder that actually ran in the authors' code: a module-name
    collision there replaced the middle layers and put a ReLU on the output, leaving
    ``xi_dim -> hidden[-1] -> ReLU -> latent_dim -> ReLU`` (82 parameters for the paper's 2 and 16), so the learned
    prior means lie in the positive orthant. The default ``"corrected"`` is the network the paper describes
    (``xi_dim -> hidden[::-1]... -> latent_dim``, linear output).
    """

    name: ClassVar[str] = "hierarchical"
    exact_kl: ClassVar[bool] = False

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`HierarchicalPrior`.

        Attributes
        ----------
        hidden : tuple of int
            Hidden layer widths of the prior encoder (the decoder uses them in reverse order).
        xi_dim : int or None
            Dimension of the hierarchical variable xi; None (the default) means latent_dim, as in the paper.
        activation : str
            Nonlinearity between hidden layers.
        decoder : str
            ``"corrected"``: the paper's prior decoder. ``"as_published"``: the network that ran in the authors'
            code (one hidden layer of width ``hidden[-1]``, ReLU activations, a ReLU on the output, so means >= 0).
        entropy : str
            How E[log q(z|y)] is estimated: ``"sample"`` (log q at the given z) or ``"analytic"`` (-entropy).
        logvar_init : float
            Initial value of both learned constant log-variances.
        """

        hidden: tuple[int, ...] = (16, 16)
        xi_dim: int | None = None
        activation: Literal["relu", "elu", "silu", "tanh"] = "relu"
        decoder: Literal["corrected", "as_published"] = "corrected"
        entropy: Literal["sample", "analytic"] = "sample"
        logvar_init: float = 0.0

        def __post_init__(self) -> None:
            owner = "prior 'hierarchical'"
            check_param(all(h >= 1 for h in self.hidden), "hidden", "a list of positive ints", self.hidden, owner)
            check_param(self.xi_dim is None or self.xi_dim >= 1, "xi_dim", "an int in the range [1, inf) or "
                        "omitted (= latent_dim)", self.xi_dim, owner)
            check_param(self.activation in ACTIVATIONS, "activation", f"one of {sorted(ACTIVATIONS)}",
                        self.activation, owner)
            check_param(self.entropy in ("sample", "analytic"), "entropy", "'sample' or 'analytic'", self.entropy,
                        owner)
            check_param(self.decoder in ("corrected", "as_published"), "decoder", "'corrected' or 'as_published'",
                        self.decoder, owner)

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, latent_dim: int) -> None:
        super().__init__(config, latent_dim=latent_dim)
        config = self.config
        self.xi_dim = latent_dim if config.xi_dim is None else config.xi_dim
        hidden = list(config.hidden)
        self.encoder_net = mlp([latent_dim, *hidden, self.xi_dim], config.activation)
        if config.decoder == "as_published":
            self.decoder_net = mlp([self.xi_dim, hidden[-1], latent_dim], "relu", final_activation=True)
        else:
            self.decoder_net = mlp([self.xi_dim, *hidden[::-1], latent_dim], config.activation)
        self.encoder_logvar = nn.Parameter(torch.full((self.xi_dim,), float(config.logvar_init)))
        self.decoder_logvar = nn.Parameter(torch.full((latent_dim,), float(config.logvar_init)))

    def prior_encoder(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (B, xi_dim) and log-variance (broadcastable) of q(xi|z)."""
        return self.encoder_net(z), self.encoder_logvar.to(z.dtype)

    def prior_decoder(self, xi: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (B, latent_dim) and log-variance (broadcastable) of p(z|xi)."""
        return self.decoder_net(xi), self.decoder_logvar.to(xi.dtype)

    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        self.check_latents(z, mu, logvar)
        if self.config.entropy == "sample":
            log_q_z = sample_log_density(z, mu, logvar)
        else:
            log_q_z = -0.5 * (LOG_2PI + 1.0 + logvar).sum(-1)
        xi_mean, xi_logvar = self.prior_encoder(z)
        kl_xi = kl_to_standard_normal(xi_mean, xi_logvar.expand_as(xi_mean))
        eps = torch.randn(z.shape[0], self.xi_dim, dtype=z.dtype, device=z.device)
        xi = xi_mean + torch.exp(0.5 * xi_logvar) * eps
        z_mean, z_logvar = self.prior_decoder(xi)
        nll = -diag_gaussian_log_prob(z, z_mean, z_logvar)
        return {"total": log_q_z + kl_xi + nll, "log_q_z": log_q_z, "kl_xi": kl_xi, "nll_z_given_xi": nll}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Ancestral samples: xi ~ N(0, I), then z ~ p(z|xi)."""
        self.check_n(n)
        ref = self.decoder_logvar
        xi = torch.randn(n, self.xi_dim, generator=generator, device=ref.device, dtype=ref.dtype)
        mean, logvar = self.prior_decoder(xi)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=ref.device, dtype=ref.dtype)
        return mean + torch.exp(0.5 * logvar) * eps

    def authors_normalizer(self) -> float:
        """1: the authors' hierarchical code added these terms to the per-pixel loss without averaging over
        latent dimensions: their code-beta 1 with the hierarchical prior is an effective beta of 4225 = 65 * 65 =
        H * W (against 2112.5 = H * W / 2 for the plain KL averaged over 2 latents), since effective beta =
        H * W / normalizer (docs/design.md, section 7)."""
        return 1.0
