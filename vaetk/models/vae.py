"""The VAE: an architecture (encoder/decoder) and a prior composed, and the terms of its loss.

The loss of one sample is ``L_REC + beta * L_REG (+ weight * L_SUP for labelled samples)``, where

- ``L_REC`` is the Gaussian negative log-likelihood of the data under the decoder (mean and log-variance from
  :meth:`Architecture.decode`), summed over channels and pixels, in nats, ``log(2 pi)`` included;
- ``L_REG`` is the prior's regularisation term (``prior.regularization(...)["total"]``, nats), never computed here;
- ``L_SUP`` is the semi-supervised term of the paper's eq. 28, ``-log q(z = theta | y)``: the encoder's Gaussian
  density evaluated at the true generative parameters, summed over latent dimensions (nats). As in the authors'
  code it is averaged over the **labelled samples only** and added with its weight to the batch means of the other
  terms, in both normalisations (its size does not depend on the grid, so it is not rescaled).

Two normalisations are offered and both are always reported:

``"elbo"``
    True nats per sample: ``L_REC + L_REG`` at beta = 1 is the negative ELBO.
``"per_pixel"``
    The authors' units (the paper's loss values): ``L_REC / (H * W)`` (summed over channels, averaged over
    pixels) and ``L_REG / prior.authors_normalizer()``; ``L_SUP`` unchanged. beta = 1 in these units is an
    effective beta of ``H * W / normalizer`` in ELBO units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from vaetk.errors import ConfigError, DataError

__all__ = ["NORMALIZATIONS", "VAE", "LossTerms", "check_dataset", "gaussian_nll", "loss_units"]

NORMALIZATIONS = ("per_pixel", "elbo")
Normalization = Literal["per_pixel", "elbo"]
_LOG_2PI = math.log(2.0 * math.pi)


def loss_units(reg_normalizer: float, latent_dim: int) -> dict[str, str]:
    """The true unit of each logged loss term, for labels: ``rec_per_pixel``, ``reg_per_pixel`` (L_REG divided by
    the prior's :meth:`~vaetk.models.priors.Prior.authors_normalizer`, so per latent dimension for the standard
    prior and per sample for the hierarchical one), ``loss_per_pixel`` (their sum, the authors' loss, which adds
    the two units) and ``loss_elbo`` (the negative ELBO)."""
    reg = ("nats/latent dim" if reg_normalizer == latent_dim else "nats/sample" if reg_normalizer == 1
           else f"nats/{reg_normalizer:g}")
    return {"rec_per_pixel": "nats/pixel", "reg_per_pixel": reg, "loss_per_pixel": f"nats/pixel + {reg}",
            "loss_elbo": "nats/sample"}


def gaussian_nll(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """Negative log-density of ``x`` under N(mean, exp(logvar)), summed over all but the first axis.

    Parameters
    ----------
    x, mean : Tensor of shape (B, ...)
    logvar : Tensor broadcastable to ``x``

    Returns
    -------
    Tensor of shape (B,)
        Nats per sample, ``log(2 pi)`` included.
    """
    logvar = logvar.expand_as(x)
    nll = 0.5 * (logvar + (x - mean).pow(2) * torch.exp(-logvar) + _LOG_2PI)
    return nll.flatten(1).sum(1)


def check_dataset(x: Any, theta: Any, which: str, *, where: str | None = None, require_theta: bool = False,
                  min_samples: int = 1, finite: bool = False) -> None:
    """Raise DataError unless ``x`` is a dataset of fields (N, C, H, W) and ``theta`` its parameters (N, s).

    Parameters
    ----------
    x : Tensor
        The fields.
    theta : Tensor or None
        Their generative parameters, one row per sample; None is accepted unless ``require_theta``.
    which : str
        What the data is, as messages name it (``"training"``: "The training data must ...").
    where : str, optional
        The function checking, put first in messages (``"dataset_losses: the input data must ..."``).
    require_theta : bool
        Refuse a missing ``theta``.
    min_samples : int
        Fewest samples accepted.
    finite : bool
        Refuse NaN or infinite values in ``x``.
    """
    the = f"{where}: the" if where else "The"
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise DataError(f"{the} {which} data must be a tensor of shape (N, C, H, W), got {shape}.")
    if (theta is not None or require_theta) and (
            not isinstance(theta, Tensor) or theta.dim() != 2 or theta.shape[0] != x.shape[0]):
        shape = tuple(theta.shape) if isinstance(theta, Tensor) else type(theta).__name__
        raise DataError(f"{the} {which} generative parameters must have shape ({x.shape[0]}, s), got {shape}.")
    if x.shape[0] < min_samples:
        raise DataError(f"{the} {which} set needs at least {min_samples} samples, got {x.shape[0]}.")
    if finite and not bool(torch.isfinite(x).all()):
        raise DataError(f"{the} {which} data contains NaN or inf values.")


@dataclass(frozen=True)
class LossTerms:
    """Per-sample loss terms of one batch (all shape (B,), nats) and their scalar summaries.

    Attributes
    ----------
    rec, reg, sup : Tensor of shape (B,)
        L_REC, L_REG and L_SUP in nats (``sup`` is 0 for unlabelled samples).
    labelled : Tensor of shape (B,), bool
        Which samples carry a label.
    reg_parts : dict of str to Tensor of shape (B,)
        The prior's named sub-terms (nats).
    n_pixels : int
        H * W, the per-pixel divisor of L_REC.
    reg_normalizer : float
        The prior's divisor for per-pixel L_REG.
    """

    rec: Tensor
    reg: Tensor
    sup: Tensor
    labelled: Tensor
    reg_parts: dict[str, Tensor]
    n_pixels: int
    reg_normalizer: float

    def scaled(self, normalization: Normalization) -> tuple[Tensor, Tensor, Tensor]:
        """(rec, reg, sup) per sample in the units of ``normalization`` (``sup`` is nats in both)."""
        if normalization == "elbo":
            return self.rec, self.reg, self.sup
        if normalization == "per_pixel":
            return self.rec / self.n_pixels, self.reg / self.reg_normalizer, self.sup
        raise ConfigError(f"Unknown normalization {normalization!r}; expected one of {', '.join(NORMALIZATIONS)}.")

    def objective(self, beta: float, normalization: Normalization, *, sup_weight: float = 0.0,
                  include_reg: bool = True) -> Tensor:
        """The scalar minimised, in ``normalization`` units: the batch mean of rec + beta * reg, plus
        ``sup_weight`` times the mean of sup over the batch's labelled samples (the authors' eq. 28).

        ``include_reg=False`` leaves the regularisation out entirely (the reconstruction-only phase), which is
        not the same as beta = 0 when L_REG is not finite.
        """
        rec, reg, sup = self.scaled(normalization)
        total = rec.mean()
        if include_reg:
            total = total + beta * reg.mean()
        if sup_weight and bool(self.labelled.any()):
            total = total + sup_weight * sup[self.labelled].mean()
        return total

    def summary(self) -> dict[str, float]:
        """Batch means of every term in both units (the keys the logs use)."""
        out: dict[str, float] = {}
        for unit in NORMALIZATIONS:
            rec, reg, sup = self.scaled(unit)  # type: ignore[arg-type]
            out[f"rec_{unit}"] = float(rec.detach().mean())
            out[f"reg_{unit}"] = float(reg.detach().mean())
            n_lab = int(self.labelled.sum())
            out[f"sup_{unit}"] = float(sup.detach().sum() / n_lab) if n_lab else 0.0
        for key, value in self.reg_parts.items():
            if key != "total":
                out[f"reg_{key}_elbo"] = float(value.detach().mean())
        return out


class VAE(nn.Module):
    """An architecture and a prior composed into a VAE.

    Parameters
    ----------
    architecture : Architecture
        Encoder/decoder with ``encode(x) -> (mu, logvar)`` and ``decode(z) -> (mean, logvar)``.
    prior : Prior
        Owner of the regularisation term (``regularization(z, mu, logvar)["total"]``, nats per sample).

    Raises
    ------
    ConfigError
        If the architecture's and the prior's latent dimensions differ.
    """

    def __init__(self, architecture: Any, prior: Any) -> None:
        super().__init__()
        if architecture.latent_dim != prior.latent_dim:
            raise ConfigError(
                f"The architecture's latent_dim ({architecture.latent_dim}) differs from the prior's "
                f"({prior.latent_dim}); build both with the same model.latent_dim."
            )
        self.architecture = architecture
        self.prior = prior

    @property
    def latent_dim(self) -> int:
        return int(self.architecture.latent_dim)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.architecture.input_shape)  # type: ignore[return-value]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Encoder mean and log-variance, each (B, latent_dim)."""
        return self.architecture.encode(x)

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Decoder mean (B, C, H, W) and log-variance (broadcastable)."""
        return self.architecture.decode(z)

    def reparameterize(self, mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) drawn with ``generator``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def loss_terms(self, x: Tensor, theta: Tensor | None = None, labelled: Tensor | None = None, *,
                   generator: torch.Generator | None = None) -> LossTerms:
        """Every loss term of a batch, per sample.

        Parameters
        ----------
        x : Tensor of shape (B, C, H, W)
            Data.
        theta : Tensor of shape (B, latent_dim), optional
            Generative parameters (only read for labelled samples).
        labelled : Tensor of shape (B,), bool, optional
            Which samples are labelled (their L_SUP is computed); none if omitted.
        generator : torch.Generator, optional
            For the reparameterisation noise.
        """
        if x.dim() != 4:
            raise DataError(f"VAE.loss_terms: expected data of shape (B, C, H, W), got {tuple(x.shape)}.")
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator)
        mean, dec_logvar = self.decode(z)
        if mean.shape != x.shape:
            raise DataError(f"The decoder returned a mean of shape {tuple(mean.shape)} for data of shape "
                            f"{tuple(x.shape)}; the architecture does not fit this data.")
        rec = gaussian_nll(x, mean, dec_logvar)
        parts = self.prior.regularization(z, mu, logvar)
        reg = parts["total"]
        if labelled is None:
            labelled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        sup = torch.zeros_like(rec)
        if bool(labelled.any()):
            if theta is None or theta.shape != mu.shape:
                got = None if theta is None else tuple(theta.shape)
                raise DataError(f"Semi-supervised training needs theta of shape {tuple(mu.shape)} (one generative "
                                f"parameter per latent dimension), got {got}.")
            sup = torch.where(labelled, encoder_nll(theta, mu, logvar), sup)
        return LossTerms(rec=rec, reg=reg, sup=sup, labelled=labelled, reg_parts=parts,
                         n_pixels=int(x.shape[-2] * x.shape[-1]),
                         reg_normalizer=float(self.prior.authors_normalizer()))


def encoder_nll(theta: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """-log q(z = theta | y) per sample (paper eq. 28): N(theta; mu, diag(exp(logvar))), summed over dims."""
    return gaussian_nll(theta, mu, logvar)
