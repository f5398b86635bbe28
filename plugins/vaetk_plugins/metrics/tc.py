"""Total correlation of the latent codes (aggregated posterior samples or encoder means).

TC(z) = sum_i H(z_i) - H(z) = D_KL[q(z) || prod_i q(z_i)], zero exactly when the latent dimensions are
independent. It does not use the factors (the argument is accepted for the common metric signature).

- ``method="knn"`` (default): the KSG multi-information estimator (:func:`vaetk.plugin.ksg_mi`, max-norm, k
  neighbours), which captures non-linear dependence and is invariant to strictly monotone maps of each axis.
- ``method="gaussian"``: -1/2 log det(corr(z)), exact for Gaussian z; constant dimensions are left out (they
  are independent of everything) and a singular correlation is capped at ``max_gaussian`` nats.

Lower is better (0: factorised code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vaetk.plugin import Metric, check_param, ksg_mi, standardise

__all__ = ["TC"]


class TC(Metric):
    """Total correlation of the latents (nats); lower is better. Returns ``tc``."""

    name = "tc"
    primary = "tc"
    higher_is_better = False
    min_samples = 8

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of TC.

        Attributes
        ----------
        method : {"knn", "gaussian"}
        k : int
            Neighbours of the k-NN estimator.
        max_gaussian : float
            Cap of the Gaussian value for (numerically) singular correlation matrices.
        """

        method: Literal["knn", "gaussian"] = "knn"
        k: int = 3
        max_gaussian: float = 50.0

        def __post_init__(self) -> None:
            owner = "metric 'tc'"
            check_param(self.k >= 1, "k", "an int >= 1", self.k, owner)
            check_param(self.max_gaussian > 0, "max_gaussian", "a number > 0", self.max_gaussian, owner)

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        z = standardise(latents)
        active = np.any(z != 0.0, axis=0)
        if active.sum() < 2:
            return {"tc": 0.0}
        if self.config.method == "knn":
            return {"tc": ksg_mi(latents[:, active], self.config.k)}
        corr = np.corrcoef(z[:, active], rowvar=False)
        sign, logdet = np.linalg.slogdet(corr)
        value = -0.5 * logdet if sign > 0 else np.inf
        return {"tc": float(min(max(value, 0.0), self.config.max_gaussian))}
