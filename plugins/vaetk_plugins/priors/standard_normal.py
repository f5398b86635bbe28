"""The standard-normal prior p(z) = N(0, I) with its closed-form KL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from vaetk.plugin import Prior, kl_to_standard_normal

__all__ = ["StandardNormalPrior"]


class StandardNormalPrior(Prior):
    """p(z) = N(0, I); L_REG is the analytic KL[q(z|x) || N(0, I)] (z is not used).

    Rotation-invariant: the regularisation does not prefer any orientation of the latent space (paper,
    Appendix A), which is why plain VAEs disentangle only by chance.
    """

    name: ClassVar[str] = "standard_normal"
    exact_kl: ClassVar[bool] = True

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """No parameters."""

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, latent_dim: int) -> None:
        super().__init__(config, latent_dim=latent_dim)
        # Not saved: it only carries the device/dtype that samples are drawn on.
        self.register_buffer("_anchor", torch.zeros(latent_dim), persistent=False)

    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        self.check_latents(z, mu, logvar)
        kl = kl_to_standard_normal(mu, logvar)
        return {"total": kl, "kl": kl}

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        self.check_n(n)
        a = self._anchor
        return torch.randn(n, self.latent_dim, generator=generator, device=a.device, dtype=a.dtype)
