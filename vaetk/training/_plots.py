"""Figures of a trained model (matplotlib; each function returns a Figure, the CLI saves PNGs).

- :func:`plot_latent_space`: aggregated posterior vs prior samples vs p(theta) (paper Figs. 6 and 12);
- :func:`plot_latents_vs_factors`: each latent dimension against each generative parameter (Fig. 7);
- :func:`plot_reconstructions`: data, decoder mean and absolute error per channel, with colour bars and theta;
- :func:`plot_training_curves`: the losses in their units, the constant predictor, beta and S_D against epochs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_latent_space", "plot_latents_vs_factors", "plot_reconstructions", "plot_training_curves"]

CHANNELS = ("p", "u_x", "u_y")


def _figure(*args: Any, **kwargs: Any) -> Any:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend needed

    fig = Figure(*args, **kwargs)
    return fig


def plot_latent_space(posterior: np.ndarray, prior: np.ndarray, factors: np.ndarray) -> Any:
    """Scatter of the first two dimensions of z ~ q(z|y) (one per sample), z ~ p(z), and theta.

    Parameters
    ----------
    posterior : ndarray of shape (n, d)
        One sample of q(z|y) per data sample (the aggregated posterior).
    prior : ndarray of shape (m, d)
    factors : ndarray of shape (n, s)
    """
    fig = _figure(figsize=(12, 4), layout="constrained")
    panels = ((posterior, "aggregated posterior q(z)", "C0"), (prior, "prior p(z)", "C1"),
              (factors, "generative parameters p(theta)", "C2"))
    for ax, (points, title, color) in zip(fig.subplots(1, 3), panels, strict=True):
        second = points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))
        ax.scatter(points[:, 0], second, s=4, alpha=0.5, color=color)
        ax.set_title(title)
        # Each panel at its own scale (one shared axis let one far prior sample flatten the others); the 0.5 and
        # 99.5 percentiles keep a stray point from doing the same within a panel.
        finite = np.isfinite(points[:, 0]) & np.isfinite(second)
        if finite.any():
            lo = np.percentile(np.stack([points[finite, 0], second[finite]]), 0.5, axis=1)
            hi = np.percentile(np.stack([points[finite, 0], second[finite]]), 99.5, axis=1)
            centre, half = (lo + hi) / 2, max(float((hi - lo).max()) / 2 * 1.15, 1e-6)
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
        ax.set_aspect("equal")
        ax.set_xlabel("dimension 1")
        ax.set_ylabel("dimension 2")
    return fig


def plot_latents_vs_factors(means: np.ndarray, stds: np.ndarray, factors: np.ndarray) -> Any:
    """Grid of encoder means (with +-1 std bars) of latent i against generative parameter j (paper Fig. 7)."""
    d, s = means.shape[1], factors.shape[1]
    fig = _figure(figsize=(3.2 * s, 3.0 * d), layout="constrained")
    axes = np.asarray(fig.subplots(d, s, squeeze=False))
    for i in range(d):
        for j in range(s):
            ax = axes[i, j]
            ax.errorbar(factors[:, j], means[:, i], yerr=stds[:, i], fmt=".", ms=2, alpha=0.4, elinewidth=0.5)
            r = np.corrcoef(factors[:, j], means[:, i])[0, 1] if len(factors) > 1 else math.nan
            ax.set_title(f"z{i + 1} vs theta{j + 1}  (r = {r:+.2f})", fontsize=9)
            ax.set_xlabel(f"theta{j + 1}")
            ax.set_ylabel(f"z{i + 1}")
    return fig


def plot_reconstructions(data: np.ndarray, reconstruction: np.ndarray, theta: np.ndarray | None = None) -> Any:
    """For each sample (rows of 3 x 3 panels): the data, the decoder mean and |error|, per channel, with a colour
    bar for the data/mean pair (shared scale) and one for the error, and the sample's theta on the left.

    Parameters
    ----------
    data, reconstruction : ndarray of shape (n, C, H, W)
    theta : ndarray of shape (n, s), optional
        The samples' generative parameters (row labels).
    """
    n, c = data.shape[:2]
    fig = _figure(figsize=(3.4 * c * 3 / 2, 2.6 * n * 1.0), layout="constrained")
    axes = np.asarray(fig.subplots(n, 3 * c, squeeze=False))
    for k in range(n):
        for ch in range(c):
            name = CHANNELS[ch] if ch < len(CHANNELS) else f"ch{ch}"
            lo, hi = float(data[k, ch].min()), float(data[k, ch].max())
            panels = ((data[k, ch], f"{name} data", (lo, hi)), (reconstruction[k, ch], f"{name} mean", (lo, hi)),
                      (np.abs(data[k, ch] - reconstruction[k, ch]), f"{name} |error|", None))
            for m, (image, title, limits) in enumerate(panels):
                ax = axes[k, 3 * ch + m]
                kwargs = {"vmin": limits[0], "vmax": limits[1]} if limits else {}
                im = ax.imshow(image, origin="lower", cmap="viridis" if limits else "magma", **kwargs)
                ax.set_title(title, fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
                if m >= 1:  # after the mean: the data/mean scale; after the error: its own
                    fig.colorbar(im, ax=ax, shrink=0.8).ax.tick_params(labelsize=7)
        if theta is not None:
            values = ", ".join(f"{v:.2f}" for v in np.atleast_1d(theta[k]))
            axes[k, 0].set_ylabel(f"theta = ({values})", fontsize=8)
    return fig


def plot_training_curves(history: Sequence[dict[str, Any]], baseline: float | None = None,
                         units: dict[str, str] | None = None) -> Any:
    """L_REC and L_REG (train, and test where evaluated) in their units, the constant predictor, beta (the
    reconstruction phase, beta = 0, shaded rather than drawn on the log axis) and S_D against epochs."""
    units = units or {"rec_per_pixel": "nats/pixel", "reg_per_pixel": "authors' units"}
    fig = _figure(figsize=(16, 3.8), layout="constrained")
    ax_rec, ax_reg, ax_beta, ax_sd = fig.subplots(1, 4)
    epochs = np.array([row["epoch"] for row in history], dtype=float)

    def column(key: str) -> np.ndarray:
        return np.array([np.nan if row.get(key) is None else row.get(key, np.nan) for row in history], dtype=float)

    for split, style in (("train", "-"), ("test", "o")):
        for ax, term in ((ax_rec, "rec"), (ax_reg, "reg"), (ax_sd, "sd")):
            values = column(f"{split}_{term}" if term == "sd" else f"{split}_{term}_per_pixel")
            mask = np.isfinite(values)
            if mask.any():
                ax.plot(epochs[mask], values[mask], style, ms=3, label=split)
    if baseline is not None:
        ax_rec.axhline(baseline, color="k", ls="--", lw=1, label="constant predictor")
    rec = column("train_rec_per_pixel")
    finite = rec[np.isfinite(rec)]
    if finite.size:  # the first epochs' huge values would flatten everything else
        low = min(float(np.min(finite)), baseline if baseline is not None else np.inf)
        high = max(float(np.percentile(finite, 90)), low + 1.0, (baseline if baseline is not None else -np.inf) + 0.3)
        ax_rec.set_ylim(low - 0.3, high)
    ax_rec.set_title(f"L_REC ({units['rec_per_pixel']})")
    ax_reg.set_title(f"L_REG ({units['reg_per_pixel']})")
    ax_reg.set_yscale("symlog", linthresh=1e-2)
    beta = column("beta")
    positive = beta > 0
    if positive.any():
        ax_beta.plot(epochs[positive], beta[positive], color="C3")
        ax_beta.set_yscale("log")
    if (~positive & np.isfinite(beta)).any():
        zero = epochs[~positive & np.isfinite(beta)]
        ax_beta.axvspan(zero.min() - 0.5, zero.max() + 0.5, color="0.85", label="beta = 0")
        ax_beta.legend(fontsize=8)
    ax_beta.set_title("beta")
    ax_sd.set_title("S_D (encoder means vs theta)")
    ax_sd.set_ylim(0.0, 1.02)
    for ax in (ax_rec, ax_reg, ax_beta, ax_sd):
        ax.set_xlabel("epoch")
    for ax in (ax_rec, ax_reg, ax_sd):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig
