"""DCI for continuous factors (Eastwood & Williams 2018): disentanglement, completeness, informativeness.

Regressor: ridge regression of the standardised factors on the standardised latents (closed form, numpy; no
scikit-learn). Importance R_ij = |W_ij|, the magnitude of the
standardised coefficient of latent i for factor j, fitted on all samples (it describes the code; linear codes:
exact; non-linear codes: only their linear part is seen, a documented limitation).

- Disentanglement: D_i = 1 - H_s(P_i.), P_ij = R_ij / sum_j R_ij (entropy with log base s), averaged with weights
  rho_i = sum_j R_ij / sum_ij R_ij. A latent dimension with no importance (e.g. constant) gets weight 0.
- Completeness: C_j = 1 - H_{d_z}(R_.j / sum_i R_ij), averaged over factors (a factor no latent predicts scores 0).
- Informativeness: mean over factors of the held-out R^2 of a ridge fit on a seeded random half of the samples,
  evaluated on the other half (1: perfectly predictable).

With s = 1 every D_i is 1, with d_z = 1 every C_j is 1 (one outcome: no entropy).
Known values: permuted/scaled copy D = C = I = 1; a 45-degree rotation of two factors D = C = 0; the redundant
code (theta_0, theta_0, theta_1) has D = 1 and C = (1 - log 2 / log 3 + 1) / 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaetk.plugin import Metric, check_param, standardise

__all__ = ["DCI", "ridge"]


def ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Coefficients W (d, s) minimising |y - x W|^2 + alpha n |W|^2 (x, y centred)."""
    n, d = x.shape
    return np.linalg.solve(x.T @ x + alpha * n * np.eye(d), x.T @ y)


def _norm_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of p (rows sum to 1) in log base ``base``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1) / np.log(base)


class DCI(Metric):
    """Disentanglement (primary), completeness and informativeness from ridge importances; higher is better.

    Returns ``disentanglement``, ``completeness``, ``informativeness``.
    """

    name = "dci"
    primary = "disentanglement"
    min_samples = 8

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of DCI.

        Attributes
        ----------
        alpha : float
            Ridge penalty per sample (on standardised variables).
        """

        alpha: float = 1e-3

        def __post_init__(self) -> None:
            check_param(self.alpha > 0, "alpha", "a positive ridge penalty", self.alpha, "metric 'dci'")

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        n, dz = latents.shape
        s = factors.shape[1]
        order = rng.permutation(n)
        fit, test = order[: n // 2], order[n // 2:]
        z, t = standardise(latents), standardise(factors)
        importance = np.abs(ridge(z, t, self.config.alpha))
        w = ridge(z[fit] - z[fit].mean(axis=0), t[fit] - t[fit].mean(axis=0), self.config.alpha)
        total = importance.sum()
        if total <= 0:
            return {"disentanglement": 0.0, "completeness": 0.0, "informativeness": 0.0}
        row = importance.sum(axis=1)
        active = row > 1e-12 * total
        p_rows = importance[active] / row[active, None]
        d_i = 1.0 - _norm_entropy(p_rows, s) if s > 1 else np.ones(active.sum())
        disentanglement = float(np.sum(d_i * row[active]) / row[active].sum())
        col = importance.sum(axis=0)
        c_j = np.zeros(s)
        has = col > 1e-12 * total
        if dz > 1:
            c_j[has] = 1.0 - _norm_entropy((importance[:, has] / col[has]).T, dz)
        else:
            c_j[has] = 1.0
        pred = (z[test] - z[fit].mean(axis=0)) @ w + t[fit].mean(axis=0)
        resid = np.sum((t[test] - pred) ** 2, axis=0)
        spread = np.sum((t[test] - t[test].mean(axis=0)) ** 2, axis=0)
        r2 = np.where(spread > 0, 1.0 - resid / np.where(spread > 0, spread, 1.0), 0.0)
        return {"disentanglement": disentanglement, "completeness": float(c_j.mean()),
                "informativeness": float(np.clip(r2, 0.0, 1.0).mean())}
