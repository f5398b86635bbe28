"""``gaussian_mixture``: a finite mixture of Gaussians, with the paper's 4-mode mixture as a preset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.special

from vaetk.plugin import ConfigError, Distribution, check_param
from vaetk_plugins.distributions._gaussian import cholesky_from, log_normal, vector

OWNER = "distribution 'gaussian_mixture'"
WEIGHT_TOL = 1e-6

# The authors' 4-mode mixture: centres (+-1, +-1), component standard deviation 0.25 (called a covariance in
# the
# paper's text), equal weights (docs/design.md, section 8.3).
PRESETS = {
    "paper_4mode": {
        "weights": (0.25, 0.25, 0.25, 0.25),
        "means": ((1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)),
        "stds": (0.25, 0.25, 0.25, 0.25),
    }
}


def resolve(config: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (K,), means (K, d), Cholesky factors (K, d, d)); ConfigError names a bad parameter."""
    weights, means, stds, covs = config.weights, config.means, config.stds, config.covs
    preset = config.preset
    if preset is None and means is None:
        if any(v is not None for v in (weights, stds, covs)):
            raise ConfigError(
                f"{OWNER}: 'means' is required (one list of coordinates per component) unless "
                f"a preset is used ({', '.join(PRESETS)})."
            )
        preset = "paper_4mode"  # Config() is the paper's mixture
    if preset is not None:
        given = [k for k in ("weights", "means", "stds", "covs") if getattr(config, k) is not None]
        if given:
            raise ConfigError(
                f"{OWNER}: preset {preset!r} fixes weights, means and stds; remove "
                f"{', '.join(repr(g) for g in given)} or the preset."
            )
        weights, means, stds = (PRESETS[preset][k] for k in ("weights", "means", "stds"))
    ragged = len({len(m) for m in means}) > 1
    check_param(
        not ragged, "means", "a list of equally long coordinate lists (one per component)", means, OWNER
    )
    centres = np.asarray(means, dtype=float)
    check_param(
        centres.ndim == 2 and centres.shape[0] >= 1 and centres.shape[1] >= 1,
        "means",
        "a non-empty list of equally long coordinate lists (one per component)",
        means,
        OWNER,
    )
    check_param(bool(np.all(np.isfinite(centres))), "means", "finite", means, OWNER)
    k, dim = centres.shape
    if weights is None:
        w = np.full(k, 1.0 / k)
    else:
        w = vector(weights, "weights", OWNER)
        check_param(
            len(w) == k, "weights", f"a list of {k} numbers (one per component in 'means')", weights, OWNER
        )
        check_param(bool(np.all(w >= 0)), "weights", "non-negative", weights, OWNER)
        check_param(
            abs(w.sum() - 1.0) <= WEIGHT_TOL,
            "weights",
            f"a list summing to 1 (within {WEIGHT_TOL:g}; the sum is {w.sum():.10g})",
            weights,
            OWNER,
        )
        w = w / w.sum()
    for name, per in (("stds", stds), ("covs", covs)):
        if per is not None:
            check_param(
                len(per) == k, name, f"a list of {k} entries (one per component in 'means')", per, OWNER
            )
    if stds is not None and covs is not None:
        raise ConfigError(f"{OWNER}: give either 'stds' or 'covs', not both.")
    chols = np.stack(
        [
            cholesky_from(
                None if stds is None else stds[i], None if covs is None else covs[i], dim, f"s[{i}]", OWNER
            )
            for i in range(k)
        ]
    )
    return w, centres, chols


class GaussianMixture(Distribution):
    """sum_k w_k N(means_k, covs_k).

    ``weights`` default to equal and must sum to 1; each component has a standard deviation (``stds``: a
    number or one per dimension) or a covariance matrix (``covs``), unit variance when neither is given.
    ``preset = "paper_4mode"`` (also what ``Config()`` gives) is the paper's mixture: centres (+-1, +-1),
    std 0.25,
    equal weights.
    """

    name = "gaussian_mixture"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        weights: tuple[float, ...] | None = None
        means: tuple[tuple[float, ...], ...] | None = None
        stds: tuple[float | tuple[float, ...], ...] | None = None
        covs: tuple[tuple[tuple[float, ...], ...], ...] | None = None
        preset: Literal["paper_4mode"] | None = None

        def __post_init__(self) -> None:
            resolve(self)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.weights, self.means, self.chols = resolve(self.config)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def covs(self) -> np.ndarray:
        return self.chols @ np.swapaxes(self.chols, -1, -2)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        n = self._check_n(n)
        component = rng.choice(len(self.weights), size=n, p=self.weights)
        z = rng.standard_normal((n, self.dim))
        return self.means[component] + np.einsum("nij,nj->ni", self.chols[component], z)

    def log_prob(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        with np.errstate(divide="ignore"):  # a zero weight contributes log 0 = -inf, which logsumexp handles
            components = zip(self.weights, self.means, self.chols, strict=True)
            terms = np.stack([np.log(w) + log_normal(x, m, c) for w, m, c in components])
        return scipy.special.logsumexp(terms, axis=0)
