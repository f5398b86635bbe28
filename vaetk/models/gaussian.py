"""Diagonal-Gaussian densities and KL divergences, summed over the last (latent) dimension.

Shared by the priors, the trainer's loss and the tests; every function returns one value per sample, shape (B,).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["LOG_2PI", "diag_gaussian_log_prob", "kl_diag_gaussians", "kl_to_standard_normal", "sample_log_density",
           "unrepresentable_logvar"]

LOG_2PI = math.log(2.0 * math.pi)


def diag_gaussian_log_prob(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, diag(exp(logvar))), summed over the last dimension (arguments broadcast)."""
    return -0.5 * (LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar)).sum(-1)


def unrepresentable_logvar(logvar: Tensor) -> Tensor:
    """Where exp(-logvar) overflows logvar's dtype (logvar < -88.7 in float32): a variance too small to divide by."""
    return logvar < -math.log(torch.finfo(logvar.dtype).max)


def sample_log_density(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log q(z|x) = log N(z; mu, diag(exp(logvar))) of a reparameterised sample z = mu + exp(logvar / 2) * eps.

    Equal to :func:`diag_gaussian_log_prob` (bit for bit) except in coordinates whose exp(-logvar) overflows the
    dtype (logvar < -88.7 in float32, which an unregularised reconstruction phase can reach): there z - mu has
    underflowed, the standardised residual eps^2 = (z - mu)^2 exp(-logvar) is 0 * inf, and its expectation 1 is used
    instead, i.e. the analytic entropy for those coordinates, whose gradient pushes logvar back up.
    """
    unrepresentable = unrepresentable_logvar(logvar)
    safe_logvar = torch.where(unrepresentable, torch.zeros_like(logvar), logvar)
    residual = torch.where(unrepresentable, torch.ones_like(logvar), (z - mu).pow(2) * torch.exp(-safe_logvar))
    return -0.5 * (LOG_2PI + logvar + residual).sum(-1)


def kl_diag_gaussians(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL[N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p)))], summed over the last dimension."""
    ratio = torch.exp(logvar_q - logvar_p)
    return 0.5 * (ratio + (mu_q - mu_p).pow(2) * torch.exp(-logvar_p) - 1.0 - (logvar_q - logvar_p)).sum(-1)


def kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL[N(mu, diag(exp(logvar))) || N(0, I)], summed over the last dimension."""
    return 0.5 * (torch.exp(logvar) + mu.pow(2) - 1.0 - logvar).sum(-1)
