"""Aggregated posteriors and latent-factor grids for a set of runs (paper Figs. 12 and 15).

- :func:`aggregated_posterior`: samples of q(z) = mean over the data of q(z|y) (one or more per datum).
- :func:`plot_posterior_comparison`: per run, p(theta), the prior p(z) and q(z) side by side.
- :func:`plot_latent_factor_grid`: per run, every encoder-mean dimension z_i against every factor theta_j
  (a disentangled run shows one tight curve per row and column and clouds elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from vaetk.errors import ConfigError, DataError
from vaetk.models._evaluate import _batches, _generator, prepared_for_eval
from vaetk.models.vae import check_dataset

__all__ = ["PosteriorView", "aggregated_posterior", "plot_latent_factor_grid", "plot_posterior_comparison",
           "posterior_view"]


@dataclass(frozen=True)
class PosteriorView:
    """What the comparison figures show for one run (float64 arrays)."""

    label: str
    theta: np.ndarray  # (N, s) generative parameters
    means: np.ndarray  # (N, d) encoder means
    aggregated: np.ndarray  # (N * k, d) samples of q(z)
    prior: np.ndarray  # (M, d) samples of p(z)


def aggregated_posterior(vae: nn.Module, x: Tensor, *, samples_per_datum: int = 1, batch_size: int = 256,
                         seed: int = 0, batchnorm: str = "recompute") -> np.ndarray:
    """Samples of the aggregated posterior q(z): ``samples_per_datum`` draws of q(z|y) for each y in ``x``."""
    check_dataset(x, None, "input", where="aggregated_posterior")
    if samples_per_datum < 1:
        raise ConfigError(f"samples_per_datum must be >= 1, got {samples_per_datum}.")
    out = []
    with prepared_for_eval(vae, x, batchnorm=batchnorm, batch_size=batch_size, seed=seed) as model, \
            torch.no_grad():
        g = _generator(seed + 1, x.device)
        for _ in range(samples_per_datum):
            for sl in _batches(x.shape[0], batch_size):
                mu, logvar = model.encode(x[sl])
                out.append(model.reparameterize(mu, logvar, g).double())
    return torch.cat(out).cpu().numpy()


def posterior_view(label: str, vae: nn.Module, x: Tensor, theta: Tensor, *, n_prior: int | None = None,
                   seed: int = 0, batchnorm: str = "recompute") -> PosteriorView:
    """Everything the comparison figures need for one run (prior samples drawn with a generator from ``seed``)."""
    check_dataset(x, theta, "input", where="posterior_view")
    with prepared_for_eval(vae, x, batchnorm=batchnorm, seed=seed) as model, torch.no_grad():
        means = torch.cat([model.encode(x[sl])[0] for sl in _batches(x.shape[0], 256)]).double().cpu().numpy()
        prior = model.prior.sample(n_prior or x.shape[0], generator=_generator(seed + 3, torch.device("cpu")))
    agg = aggregated_posterior(vae, x, seed=seed, batchnorm=batchnorm)
    return PosteriorView(label, theta.double().cpu().numpy(), means, agg, prior.double().cpu().numpy())


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_posterior_comparison(views: Sequence[PosteriorView], dims: tuple[int, int] = (0, 1)):
    """One panel per run: p(theta) (grey), p(z) samples (blue) and q(z) samples (orange) in the plane ``dims``."""
    if not views:
        raise ConfigError("plot_posterior_comparison needs at least one run.")
    i, j = dims
    for v in views:
        if v.aggregated.shape[1] <= max(i, j) or v.theta.shape[1] <= max(i, j):
            raise DataError(f"run {v.label!r}: dims {dims} exceed the latent ({v.aggregated.shape[1]}) or factor "
                            f"({v.theta.shape[1]}) dimension.")
    plt = _plt()
    fig, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 3.2), squeeze=False)
    for ax, v in zip(axes[0], views, strict=True):
        ax.scatter(v.theta[:, i], v.theta[:, j], s=3, c="0.6", label="p(theta)")
        ax.scatter(v.prior[:, i], v.prior[:, j], s=3, c="C0", alpha=0.5, label="p(z)")
        ax.scatter(v.aggregated[:, i], v.aggregated[:, j], s=3, c="C1", alpha=0.5, label="q(z)")
        ax.set_title(v.label, fontsize="small")
        ax.set_aspect("equal", adjustable="datalim")
    axes[0][0].legend(fontsize="x-small", markerscale=3)
    fig.tight_layout()
    return fig


def plot_latent_factor_grid(view: PosteriorView):
    """Grid of scatter plots: row i is encoder-mean dimension z_i, column j is factor theta_j."""
    plt = _plt()
    d, s = view.means.shape[1], view.theta.shape[1]
    fig, axes = plt.subplots(d, s, figsize=(2.4 * s, 2.4 * d), squeeze=False)
    for i in range(d):
        for j in range(s):
            ax = axes[i][j]
            ax.scatter(view.theta[:, j], view.means[:, i], s=2, c="C0")
            if i == d - 1:
                ax.set_xlabel(f"theta_{j + 1}")
            if j == 0:
                ax.set_ylabel(f"z_{i + 1}")
    fig.suptitle(view.label, fontsize="small")
    fig.tight_layout()
    return fig
