"""SAP for continuous factors (Kumar et al. 2018): the separated attribute predictability.

S_ij is the R^2 of the least-squares line predicting theta_j from the single latent dimension z_i, which for a
line equals corr(z_i, theta_j)^2. For each factor the score is the gap between the two largest S_ij over the
latent dimensions; SAP is the mean gap: 1 when each factor is predicted by exactly one latent dimension, 0 when
two dimensions predict it equally well (entangled or redundant codes). A constant latent dimension has S = 0
(no division by zero); with a single latent dimension the gap is its S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetk.plugin import Metric
from vaetk_plugins.metrics.sd import cross_association

__all__ = ["SAP", "top_two_gaps"]


def top_two_gaps(scores: np.ndarray) -> np.ndarray:
    """Per column of ``scores`` (latents x factors), the largest value minus the second largest (0 with one row).

    The gap both SAP and MIG average over factors.
    """
    top = np.sort(scores, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros(top.shape[1])
    return top[0] - second


class SAP(Metric):
    """Mean over factors of the gap between the two best single-latent R^2; range [0, 1], higher better.

    Returns ``sap`` and ``sap_j`` per factor.
    """

    name = "sap"
    primary = "sap"
    min_samples = 8  # fewer: the R^2 of a one-variable fit on 3 points is noise (issue 15)

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """SAP has no parameters."""

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        gaps = top_two_gaps(cross_association(latents, factors, "corr")[0] ** 2)
        out = {"sap": float(gaps.mean())}
        out.update({f"sap_{j}": float(g) for j, g in enumerate(gaps)})
        return out
