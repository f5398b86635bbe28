"""A fixed diagonal Gaussian prior p(z) = N(mean, diag(variance)) with its closed-form KL."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from vaetk.plugin import Prior, check_param, kl_diag_gaussians

__all__ = ["GaussianPrior"]


class GaussianPrior(Prior):
    """p(z) = N(mean, diag(variance)), fixed; L_REG is the analytic KL[q(z|x) || p(z)] (z is not used).

    With unequal variances the prior is not rotation-invariant, so the regularisation prefers latent axes aligned
    with the prior's (the semi-supervised runs of the paper use it for that reason).

    The default is the paper's semi-supervised prior, written "N(0, diag(1, 2))" there: **variances** 1 and 2, as
    the authors' code sets its log-variances to (log 1, log 2). (Their p(theta) "covariances" are standard
    deviations, which is why the parameter here is named for what it holds.)
    """

    name: ClassVar[str] = "gaussian"
    exact_kl: ClassVar[bool] = True

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`GaussianPrior`.

        Attributes
        ----------
        mean : tuple of float
            Prior mean per latent dimension; one value is broadcast to all dimensions.
        variance : tuple of float
            Prior variance (not standard deviation) per latent dimension, > 0; one value is broadcast.
        """

        mean: tuple[float, ...] = (0.0,)
        variance: tuple[float, ...] = (1.0, 2.0)

        def __post_init__(self) -> None:
            check_param(all(math.isfinite(v) and v > 0 for v in self.variance), "variance",
                        "a list of positive numbers", self.variance, "prior 'gaussian'")

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, latent_dim: int) -> None:
        super().__init__(config, latent_dim=latent_dim)
        config = self.config
        for key in ("mean", "variance"):  # needs latent_dim, so here rather than in Config.__post_init__
            values = getattr(config, key)
            check_param(len(values) in (1, latent_dim), key,
                        f"a list of 1 or latent_dim = {latent_dim} numbers", values, self.owner())
        mean = torch.tensor(config.mean, dtype=torch.get_default_dtype()).expand(latent_dim).clone()
        logvar = torch.log(torch.tensor(config.variance, dtype=torch.float64)).expand(latent_dim).clone()
        # Derived from the config, so not part of the state_dict; buffers follow .to(device/dtype).
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("logvar", logvar.to(mean.dtype), persistent=False)

    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        self.check_latents(z, mu, logvar)
        kl = kl_diag_gaussians(mu, logvar, self.mean.to(mu.dtype), self.logvar.to(mu.dtype))
        return {"total": kl, "kl": kl}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        self.check_n(n)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + torch.exp(0.5 * self.logvar) * eps
