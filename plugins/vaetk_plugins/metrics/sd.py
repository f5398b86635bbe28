"""S_D, the covariance-based disentanglement score of the paper (eq. 6).

For each latent dimension i, r_i = max_j |C_ij| / sum_j |C_ij| with C the cross-covariance (or, with
``normalize="corr"``, the cross-correlation) between z_i and theta_j; S_D is the mean of r_i and lies in
[1/s, 1]. With ``"cov"`` each factor is weighted by its spread, so a factor with a larger variance dominates;
``"corr"`` removes that weighting.

Inactive latent dimensions (constant over the samples, or uncorrelated with every factor: sum_j |C_ij| = 0) have
no defined ratio. Policy (``inactive``): ``"floor"`` (default) scores them 1/s, the value of a dimension equally
related to every factor, which keeps S_D in [1/s, 1] and penalises dead dimensions as the paper's text
describes; ``"exclude"`` averages over the active dimensions only (1/s when none is active). A dimension is
constant when its standard deviation is at most 1e-12 times its largest magnitude. Constant factors contribute
zero covariance; all factors constant is a DataError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vaetk.plugin import DataError, Metric

__all__ = ["SD", "cross_association"]

_REL_CONSTANT = 1e-12


def _constant_columns(x: np.ndarray, centred: np.ndarray) -> np.ndarray:
    scale = np.max(np.abs(x), axis=0)
    return np.sqrt(np.mean(centred**2, axis=0)) <= _REL_CONSTANT * scale


def cross_association(latents: np.ndarray, factors: np.ndarray, normalize: str) -> tuple[np.ndarray, np.ndarray]:
    """|cov| or |corr| between every latent dimension and every factor, and a mask of constant latent dims.

    Returns
    -------
    assoc : ndarray, shape (d_z, s)
        Absolute cross-covariance (``"cov"``) or cross-correlation (``"corr"``); exactly 0 for constant columns.
    constant : ndarray of bool, shape (d_z,)
    """
    zc = latents - latents.mean(axis=0)
    tc = factors - factors.mean(axis=0)
    z_const = _constant_columns(latents, zc)
    t_const = _constant_columns(factors, tc)
    if t_const.all():
        raise DataError("factors: every factor is constant over the samples; there is nothing to relate the "
                        "latents to.")
    zc[:, z_const] = 0.0
    tc[:, t_const] = 0.0
    n = latents.shape[0]
    assoc = np.abs(zc.T @ tc) / (n - 1)
    if normalize == "corr":
        z_sd = np.where(z_const, 1.0, zc.std(axis=0, ddof=1))
        t_sd = np.where(t_const, 1.0, tc.std(axis=0, ddof=1))
        assoc = np.minimum(assoc / np.outer(z_sd, t_sd), 1.0)
    return assoc, z_const


class SD(Metric):
    """S_D (eq. 6): mean over latent dimensions of max_j |C_ij| / sum_j |C_ij|; range [1/s, 1], higher better.

    Returns ``sd`` (the score), ``active_dims`` (latent dimensions with a defined ratio) and ``sd_floor`` (the
    floor 1/s, for reading the score).
    """

    name = "sd"
    primary = "sd"
    interval_keys = ("sd",)
    min_samples = 8  # fewer: correlations of 2-3 points are noise, yet the score looked like a measurement
    higher_is_better = True

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of S_D.

        Attributes
        ----------
        normalize : {"cov", "corr"}
            Use |cov(z_i, theta_j)| (the paper) or |corr(z_i, theta_j)|.
        inactive : {"floor", "exclude"}
            How latent dimensions with no association to any factor count (see the module docstring).
        """

        normalize: Literal["cov", "corr"] = "cov"
        inactive: Literal["floor", "exclude"] = "floor"

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        assoc, _ = cross_association(latents, factors, self.config.normalize)
        s = factors.shape[1]
        total = assoc.sum(axis=1)
        # "active" relative to the strongest association anywhere, so rounding noise is not a signal
        active = total > 1e-12 * max(float(total.max()), np.finfo(float).tiny)
        ratios = np.full(latents.shape[1], 1.0 / s)
        ratios[active] = assoc[active].max(axis=1) / total[active]
        if self.config.inactive == "exclude":
            score = float(ratios[active].mean()) if active.any() else 1.0 / s
        else:
            score = float(ratios.mean())
        return {"sd": score, "active_dims": float(active.sum()), "sd_floor": 1.0 / s}
