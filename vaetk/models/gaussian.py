"""Diagonal-Gaussian densities and KL divergences, summed over the last (latent) dimension.

Shared by the priors, the trainer's loss and the tests; every function returns one value per sample, shape (B,).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LOG_2PI", "diag_gaussian_log_prob", "kl_diag_gaussians", "kl_to_standard_normal"]

LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, diag(exp(logvar))), summed over the last dimension (arguments broadcast)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)).sum(-1)


def kl_diag_gaussians(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL[N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))], summed over the last dimension."""
    ratio = torch.exp(logvar_q - logvar_p)
    return 0.5 * (ratio + (mu_q - mu_p).pow(2) * torch.exp(-logvar_p) - 1.0 - (logvar_q - logvar_p)).sum(-1)


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL[N(mu, diag(exp(logvar))) || N(0, I)], summed over the last dimension."""
    return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(-1)
