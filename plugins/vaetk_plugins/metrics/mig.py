"""MIG for continuous factors: the mutual information gap with a k-NN (KSG) mutual-information estimator.

For each factor theta_j, I_ij = I(z_i; theta_j) is estimated for every latent dimension with the KSG estimator
(:func:`vaetk.plugin.ksg_mi`, k neighbours, max-norm, variables standardised). The gap between the largest and the
second largest I_ij is divided by the factor's "entropy" as the same estimator sees it: psi(n) - psi(k), the
KSG value of I(theta_j; f(theta_j)) for any strictly monotone f, i.e. the information of a perfect code at this
sample size (continuous factors have no positive entropy to divide by; this ceiling is the consistent
replacement for the discrete H(theta_j) of Chen et al. 2018). MIG is the mean over factors, about 1 for a
disentangled code and about 0 for an entangled or redundant one. Negative MI estimates are clipped to 0. A
constant latent dimension carries no information (I = 0 up to estimator noise), never a division by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetk.plugin import ConfigError, Metric, check_param, ksg_ceiling, ksg_mi
from vaetk_plugins.metrics.sap import top_two_gaps

__all__ = ["MIG"]


class MIG(Metric):
    """Mutual information gap with KSG estimates, normalised by psi(n) - psi(k); range about [0, 1], higher better.

    Returns ``mig`` and ``mig_j`` per factor.
    """

    name = "mig"
    primary = "mig"
    min_samples = 8

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of MIG.

        Attributes
        ----------
        k : int
            Neighbours of the KSG estimator (3 is Kraskov et al.'s usual choice).
        """

        k: int = 3

        def __post_init__(self) -> None:
            check_param(self.k >= 1, "k", "a positive integer", self.k, "metric 'mig'")

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        k = self.config.k
        n = latents.shape[0]
        if n < k + 2:
            raise ConfigError(f"MIG with k = {k} needs at least {k + 2} samples, got {n}.")
        ceiling = ksg_ceiling(n, k)
        mi = np.array([[max(ksg_mi(np.column_stack([latents[:, i], factors[:, j]]), k), 0.0)
                        for j in range(factors.shape[1])] for i in range(latents.shape[1])])
        gaps = top_two_gaps(mi) / ceiling
        out = {"mig": float(gaps.mean())}
        out.update({f"mig_{j}": float(g) for j, g in enumerate(gaps)})
        return out
