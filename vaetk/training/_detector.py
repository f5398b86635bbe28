"""Over-regularisation (the paper's Theorem 1): the constant predictor and a detector for runs that reach it.

An over-regularised VAE ignores its latent code: the encoder matches the prior (L_REG = 0) and the decoder
outputs the data mean with the data variance, whatever z is. Its reconstruction loss is therefore that of the
best constant Gaussian predictor of the data, which this module computes in closed form. The decoder variance of
vaetk architectures is shared across channels, so the constant predictor's variance is too: per pixel, the mean
over channels of the per-channel variances (its maximum-likelihood value).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from vaetk.errors import DataError, VaetkWarning

__all__ = ["OverRegularizationWarning", "ConstantPredictor", "constant_predictor", "detect_over_regularization"]

_LOG_2PI = math.log(2.0 * math.pi)


class OverRegularizationWarning(VaetkWarning):
    """The run converged to the over-regularised constant predictor (L_REG ~ 0, L_REC ~ the baseline)."""


@dataclass(frozen=True)
class ConstantPredictor:
    """The best constant Gaussian predictor of a dataset.

    Attributes
    ----------
    mean : Tensor of shape (C, H, W)
        Per-channel, per-pixel data mean.
    variance : Tensor of shape (H, W)
        Per-pixel variance shared across channels (mean over channels of the per-channel variances).
    rec_elbo : float
        Its average reconstruction NLL in nats per sample (summed over channels and pixels).
    rec_per_pixel : float
        The same divided by H * W (the authors' units; the paper reports about -8.15 for its data).
    channel_std : Tensor of shape (C,)
        Per-channel standard deviation around the per-pixel mean (root of the pixel-averaged variance); the
        scale of :meth:`Architecture.init_standardization`. Channels that never vary get 1.
    """

    mean: Tensor
    variance: Tensor
    rec_elbo: float
    rec_per_pixel: float
    channel_std: Tensor


def constant_predictor(x: Tensor, *, min_variance: float = 1e-12) -> ConstantPredictor:
    """The constant predictor of data ``x`` of shape (N, C, H, W) and its loss, computed in float64.

    Pixels whose variance is below ``min_variance`` in every channel are floored (their loss would be -inf).
    """
    if x.dim() != 4 or x.shape[0] < 2:
        raise DataError(f"constant_predictor needs data of shape (N >= 2, C, H, W), got {tuple(x.shape)}.")
    if isinstance(x, Tensor):
        xd = x.detach().to(torch.float64)
        mean = xd.mean(0)
        pixel_variance = xd.var(0, unbiased=False)  # (C, H, W)
        squared = (xd - mean).pow(2).mean(0)
    else:  # data streamed from a Dataset: one pass in chunks, merging each chunk's float64 mean and squared
        # deviations into the running ones (Chan et al.; as stable as two passes, and each pass reads the store)
        from vaetk.training._streaming import chunks

        count = 0
        mean = m2 = torch.zeros(x.shape[1:], dtype=torch.float64)
        for chunk in chunks(x):
            c = chunk.detach().to(torch.float64)
            c_mean = c.mean(0)
            delta = c_mean - mean
            total = count + c.shape[0]
            mean = mean + delta * (c.shape[0] / total)
            m2 = m2 + (c - c_mean).pow(2).sum(0) + delta.pow(2) * (count * c.shape[0] / total)
            count = total
        pixel_variance = squared = m2 / count
    variance = pixel_variance.mean(0).clamp_min(min_variance)
    channel_std = pixel_variance.mean((1, 2)).sqrt()
    channel_std = torch.where(channel_std > 0, channel_std, torch.ones_like(channel_std))
    c, h, w = x.shape[1:]
    # NLL = 0.5 sum_{c,h,w} [log v + (x - m)^2 / v + log 2 pi]; averaged over samples (x - m)^2 -> per-channel
    # variance, whose channel mean is v, so the quadratic term is C per pixel.
    residual = squared.sum(0) / variance  # (H, W): sum over channels of var_c / v = C
    rec = 0.5 * float((c * torch.log(variance) + residual + c * _LOG_2PI).sum())
    return ConstantPredictor(mean.to(x.dtype), variance.to(x.dtype), rec, rec / (h * w), channel_std.to(x.dtype))


def detect_over_regularization(rec_per_pixel: float, reg_per_pixel: float, baseline: ConstantPredictor, *,
                               reg_tol: float, rec_margin: float, warn: bool = True) -> bool:
    """True (and an OverRegularizationWarning) when a model sits at the constant predictor.

    Parameters
    ----------
    rec_per_pixel, reg_per_pixel : float
        The model's L_REC and L_REG on the training data, per-pixel units.
    baseline : ConstantPredictor
        Of the same data.
    reg_tol : float
        L_REG below this counts as "the encoder carries no information".
    rec_margin : float
        L_REC within ``rec_margin`` of ``baseline.rec_per_pixel`` counts as "the constant predictor's". (A model
        far *worse* than the constant predictor has not converged to anything yet and is not flagged.)
    """
    fired = reg_per_pixel < reg_tol and abs(rec_per_pixel - baseline.rec_per_pixel) < rec_margin
    if fired and warn:
        warnings.warn(
            f"The model converged to the over-regularised constant predictor: per-pixel L_REG = "
            f"{reg_per_pixel:.4f} (< {reg_tol}) and L_REC = {rec_per_pixel:.4f}, within {rec_margin} of the "
            f"constant predictor's {baseline.rec_per_pixel:.4f} (Theorem 1). Its latents carry no information. "
            "Lengthen the reconstruction phase, lower beta0 or use the hierarchical prior.",
            OverRegularizationWarning, stacklevel=2,
        )
    return fired
