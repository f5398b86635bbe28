"""Losses of a VAE over a whole dataset, with several latent samples and an explicit BatchNorm treatment.

Used by the analyses of :mod:`vaetk.analysis` and by the default sweep trial (:mod:`vaetk.sweeps.trials`), which
therefore need not import each other. The analyses compare losses at many points of parameter space, so every
evaluation here is deterministic: the reparameterisation noise comes from a generator seeded with ``seed``
(sample k of batch b always gets the same noise, so two models are compared on identical noise), the model is
never modified, and gradients are off.

BatchNorm
    Results depend on ``batch_size`` (the noise is drawn batch by batch), so compare points evaluated with the
    same ``batch_size`` and ``seed``.

    A network with BatchNorm layers has no single "loss at these parameters": it depends on the normalisation
    statistics. ``batchnorm`` makes the choice explicit:

    ``"recompute"`` (default)
        Statistics of the evaluated data at these parameters: a copy of the model is run once over the whole
        dataset in training mode with cumulative averaging (``momentum=None``), then evaluated in eval mode.
        This is what an interpolated model needs: running statistics interpolated along with the weights do not
        belong to the interpolated weights. The statistics are averages over batches of ``batch_size``.
    ``"eval"``
        The running statistics stored in the model (for an interpolated model, interpolated too).
    ``"batch"``
        Per-batch statistics (BatchNorm in training mode, as the authors' code evaluated), so results depend on
        ``batch_size``; running statistics are left untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from vaetk._validation import is_int
from vaetk.errors import ConfigError
from vaetk.models.vae import check_dataset

__all__ = ["BATCHNORM_MODES", "dataset_losses", "encoder_means", "prepared_for_eval"]

BATCHNORM_MODES = ("recompute", "eval", "batch")
Scores = Mapping[str, Callable[[np.ndarray, np.ndarray], float]]


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _batches(n: int, batch_size: int) -> list[slice]:
    if not is_int(batch_size, 1):
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _generator(seed: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


@contextmanager
def prepared_for_eval(vae: nn.Module, x: Tensor, *, batchnorm: str = "recompute", batch_size: int = 256,
                      seed: int = 0):
    """Yield a copy of ``vae`` set up for deterministic evaluation on ``x`` (see the module docstring)."""
    if batchnorm not in BATCHNORM_MODES:
        raise ConfigError(f"batchnorm {batchnorm!r}: expected one of {', '.join(BATCHNORM_MODES)}.")
    model = copy.deepcopy(vae)
    bns = _bn_layers(model)
    with torch.random.fork_rng(devices=[]):
        # Priors that sample internally (the hierarchical prior's xi) use the global generator: seed it here and
        # restore the caller's state afterwards.
        torch.manual_seed(seed + 2)
        yield from _prepare(model, bns, x, batchnorm, batch_size, seed)


def _prepare(model, bns, x, batchnorm, batch_size, seed):
    if batchnorm == "recompute" and bns:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over all batches: the whole dataset's statistics
        model.train()
        g = _generator(seed, x.device)
        with torch.no_grad():
            for sl in _batches(x.shape[0], batch_size):
                model.loss_terms(x[sl], generator=g)
    model.eval()
    if batchnorm == "batch":
        for bn in bns:
            bn.train()
            bn.track_running_stats = False  # use batch statistics, update nothing
    yield model


def dataset_losses(vae: nn.Module, x: Tensor, *, theta: Tensor | None = None, labelled: Tensor | None = None,
                   n_latent_samples: int = 10, batch_size: int = 256, seed: int = 0,
                   batchnorm: str = "recompute") -> dict[str, float]:
    """Mean loss terms of ``vae`` over all of ``x`` and ``n_latent_samples`` latent samples per datum.

    Parameters
    ----------
    vae : VAE
        A :class:`vaetk.models.vae.VAE` (anything with ``loss_terms(x, theta, labelled, generator=)``).
    x : Tensor of shape (N, C, H, W)
    theta, labelled : Tensor, optional
        Generative parameters and the labelled mask, for the semi-supervised term.
    n_latent_samples : int
        Monte Carlo samples of z per datum (the paper used 10).
    seed : int
        Seed of the reparameterisation noise (and of the BatchNorm recomputation pass).
    batchnorm : {"recompute", "eval", "batch"}
        See the module docstring.

    Returns
    -------
    dict of str to float
        ``rec_<unit>``, ``reg_<unit>``, ``loss_<unit>`` (rec + reg, beta = 1) for unit in ``elbo`` and
        ``per_pixel``, and the prior's named sub-terms, averaged over data and samples.
    """
    check_dataset(x, theta, "input", where="dataset_losses")
    if not is_int(n_latent_samples, 1):
        raise ConfigError(f"n_latent_samples must be a positive integer, got {n_latent_samples!r}.")
    totals: dict[str, float] = {}
    n = x.shape[0]
    with prepared_for_eval(vae, x, batchnorm=batchnorm, batch_size=batch_size, seed=seed) as model, \
            torch.no_grad():
        g = _generator(seed + 1, x.device)
        for _ in range(n_latent_samples):
            for sl in _batches(n, batch_size):
                terms = model.loss_terms(x[sl], None if theta is None else theta[sl],
                                         None if labelled is None else labelled[sl], generator=g)
                weight = (sl.stop - sl.start) / (n * n_latent_samples)
                for key, value in terms.summary().items():
                    totals[key] = totals.get(key, 0.0) + weight * value
    for unit in ("elbo", "per_pixel"):
        totals[f"loss_{unit}"] = totals[f"rec_{unit}"] + totals[f"reg_{unit}"]
    return totals


def encoder_means(vae: nn.Module, x: Tensor, *, batch_size: int = 256, batchnorm: str = "recompute",
                  seed: int = 0) -> np.ndarray:
    """Encoder means mu(x) for all of ``x`` as a float64 array (N, latent_dim), BatchNorm handled as above."""
    check_dataset(x, None, "input", where="encoder_means")
    with prepared_for_eval(vae, x, batchnorm=batchnorm, batch_size=batch_size, seed=seed) as model, \
            torch.no_grad():
        mus = [model.encode(x[sl])[0] for sl in _batches(x.shape[0], batch_size)]
    return torch.cat(mus).double().cpu().numpy()


def latent_scores(latents: np.ndarray, factors: Tensor | np.ndarray | None, scores: Scores | None
                  ) -> dict[str, float]:
    """Each ``scores[name](latents, factors)`` (nothing without factors or scores)."""
    if not scores or factors is None:
        return {}
    f = factors.detach().double().cpu().numpy() if isinstance(factors, Tensor) else np.asarray(factors, float)
    return {name: float(fn(latents, f)) for name, fn in scores.items()}
