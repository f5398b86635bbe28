"""The loss landscape (paper section 4.2, Figs. 3 and 5): losses along lines in parameter space.

- :func:`loss_along_line`: P(alpha) = (1 - alpha) P_a + alpha P_b between two models, with latent scores
  (S_D) along the line when the generative factors are given (Fig. 5: two trained models).
- :func:`init_to_trained_lines`: lines from Xavier-uniform initialisations P_i to a trained model P_T (Fig. 3).
- :func:`random_direction_lines`: lines leaving a trained model along random filter-normalised directions.

Every point is evaluated over the whole dataset with several latent samples, identical noise at every point,
and BatchNorm handled as :mod:`vaetk.models._evaluate` documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor, nn

from vaetk._validation import is_int
from vaetk.analysis._params import interpolate, random_direction, shift, xavier_uniform_init
from vaetk.errors import ConfigError
from vaetk.models._evaluate import Scores, dataset_losses, encoder_means, latent_scores

__all__ = ["LineResult", "init_to_trained_lines", "loss_along_line", "plot_lines", "random_direction_lines"]


@dataclass(frozen=True)
class LineResult:
    """Losses (and scores) at the points ``t`` of one line through parameter space.

    Attributes
    ----------
    t : ndarray
        The line coordinate: alpha for interpolations, the step length for directions.
    losses : dict of str to ndarray
        Every key of :func:`vaetk.analysis.dataset_losses`, one value per point.
    scores : dict of str to ndarray
        Latent scores (S_D, ...) on encoder means at each point; empty without factors.
    label : str
        What the line is (``"init 3 -> trained"``, ``"direction 7"``).
    """

    t: np.ndarray
    losses: dict[str, np.ndarray]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    label: str = ""

    def to_json(self) -> dict:
        return {"label": self.label, "t": self.t.tolist(), "losses": {k: v.tolist() for k, v in self.losses.items()},
                "scores": {k: v.tolist() for k, v in self.scores.items()}}


def _evaluate_points(models, t: Sequence[float], x: Tensor, theta: Tensor | None, scores: Scores | None,
                     label: str, **kw) -> LineResult:
    losses: dict[str, list[float]] = {}
    score_vals: dict[str, list[float]] = {}
    for model in models:
        for key, value in dataset_losses(model, x, **kw).items():
            losses.setdefault(key, []).append(value)
        if scores and theta is not None:
            mu = encoder_means(model, x, batch_size=kw.get("batch_size", 256), batchnorm=kw.get("batchnorm",
                               "recompute"), seed=kw.get("seed", 0))
            for key, value in latent_scores(mu, theta, scores).items():
                score_vals.setdefault(key, []).append(value)
    return LineResult(np.asarray(t, float), {k: np.asarray(v) for k, v in losses.items()},
                      {k: np.asarray(v) for k, v in score_vals.items()}, label)


def _alphas(alphas: Sequence[float] | int) -> np.ndarray:
    if is_int(alphas):
        if alphas < 2:
            raise ConfigError(f"the number of points on a line must be >= 2, got {alphas}.")
        return np.linspace(0.0, 1.0, alphas)
    a = np.asarray(alphas, dtype=float)
    if a.ndim != 1 or a.size < 1 or not np.all(np.isfinite(a)):
        raise ConfigError(f"alphas must be a non-empty list of finite numbers, got {alphas!r}.")
    return a


def loss_along_line(model_a: nn.Module, model_b: nn.Module, x: Tensor, *, alphas: Sequence[float] | int = 21,
                    theta: Tensor | None = None, scores: Scores | None = None, n_latent_samples: int = 10,
                    batch_size: int = 256, seed: int = 0, batchnorm: str = "recompute", label: str = ""
                    ) -> LineResult:
    """Losses at P(alpha) = (1 - alpha) P_a + alpha P_b for each alpha (an int n means n points in [0, 1]).

    At alpha = 0 and 1 the results equal ``dataset_losses(model_a)`` and ``dataset_losses(model_b)`` (same
    arguments) exactly. ``scores`` (name -> f(latents, factors)) are evaluated on encoder means against
    ``theta`` at every point, e.g. ``{"sd": ...}`` for the S_D curve of Fig. 5.
    """
    t = _alphas(alphas)
    models = (interpolate(model_a, model_b, float(a)) for a in t)
    return _evaluate_points(models, t, x, theta, scores, label, n_latent_samples=n_latent_samples,
                            batch_size=batch_size, seed=seed, batchnorm=batchnorm)


def init_to_trained_lines(trained: nn.Module, x: Tensor, *, n_inits: int = 10, alphas: Sequence[float] | int = 21,
                          seed: int = 0, **kwargs) -> list[LineResult]:
    """Fig. 3 (left): lines from ``n_inits`` Xavier-uniform initialisations (seeds ``seed + i``) to ``trained``."""
    if n_inits < 1:
        raise ConfigError(f"n_inits must be >= 1, got {n_inits}.")
    return [loss_along_line(xavier_uniform_init(trained, seed + i), trained, x, alphas=alphas, seed=seed,
                            label=f"init {i} -> trained", **kwargs) for i in range(n_inits)]


def random_direction_lines(trained: nn.Module, x: Tensor, *, n_directions: int = 10,
                           steps: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0), seed: int = 0,
                           theta: Tensor | None = None, scores: Scores | None = None, **kwargs) -> list[LineResult]:
    """Fig. 3 (right): losses at P_T + t d along ``n_directions`` random filter-normalised directions d."""
    if n_directions < 1:
        raise ConfigError(f"n_directions must be >= 1, got {n_directions}.")
    t = _alphas(list(steps))
    lines = []
    for i in range(n_directions):
        d = random_direction(trained, seed + i)
        models = (shift(trained, d, float(s)) for s in t)
        lines.append(_evaluate_points(models, t, x, theta, scores, f"direction {i}", seed=seed, **kwargs))
    return lines


def plot_lines(lines: Sequence[LineResult], key: str = "loss_per_pixel", *, xlabel: str = "alpha",
               score: str | None = None):
    """Plot ``key`` along each line (and ``score`` on a second axis, as in Fig. 5); returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for line in lines:
        if key not in line.losses:
            raise ConfigError(f"no loss {key!r}; available: {', '.join(sorted(line.losses))}.")
        ax.plot(line.t, line.losses[key], "-", lw=1, label=line.label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(key)
    if score is not None:
        ax2 = ax.twinx()
        for line in lines:
            if score in line.scores:
                ax2.plot(line.t, line.scores[score], "--", lw=1)
        ax2.set_ylabel(f"{score} (dashed)")
    if 1 < len(lines) <= 10:
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig

