"""S_D (the paper's eq. 6), used for the per-epoch log when no ``sd`` metric plugin is installed."""

from __future__ import annotations

import numpy as np

from vaetk.errors import DataError

__all__ = ["disentanglement_score"]


def disentanglement_score(latents: np.ndarray, factors: np.ndarray) -> float:
    """S_D: per latent dimension, max_j |cov(z_i, theta_j)| / sum_j |cov(z_i, theta_j)|, averaged over i.

    Parameters
    ----------
    latents : ndarray of shape (n_samples, d)
    factors : ndarray of shape (n_samples, s)

    Returns
    -------
    float
        In [1/s, 1]; 1 when every latent dimension covaries with a single generative parameter.
    """
    z = np.asarray(latents, dtype=np.float64)
    t = np.asarray(factors, dtype=np.float64)
    if z.ndim != 2 or t.ndim != 2 or z.shape[0] != t.shape[0] or z.shape[0] < 2:
        raise DataError(f"S_D needs latents (n, d) and factors (n, s) with the same n >= 2, got {z.shape} and "
                        f"{t.shape}.")
    cov = np.abs((z - z.mean(0)).T @ (t - t.mean(0))) / (z.shape[0] - 1)  # (d, s)
    total = cov.sum(1)
    ratios = np.divide(cov.max(1), total, out=np.full(len(total), 1.0 / t.shape[1]), where=total > 0)
    return float(ratios.mean())
