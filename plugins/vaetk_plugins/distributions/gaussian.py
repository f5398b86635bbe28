"""``gaussian``: theta ~ N(mean, cov), with the paper's shifted Gaussian as a preset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vaetk.plugin import ConfigError, Distribution
from vaetk_plugins.distributions._gaussian import cholesky_from, log_normal, vector

OWNER = "distribution 'gaussian'"

# The authors' shifted Gaussian: mean 1 and standard deviation 0.5 in each of the two KLE coefficients (the
# paper's text calls 0.5 a covariance; their code uses it as a standard deviation, see docs/design.md, section 8.3).
PRESETS = {"paper_shifted": {"mean": (1.0, 1.0), "std": (0.5, 0.5)}}


def resolve(config: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mean, Cholesky factor) from a config; raises ConfigError naming the bad parameter."""
    mean, std, cov = config.mean, config.std, config.cov
    if config.preset is not None:
        given = [k for k in ("mean", "std", "cov") if getattr(config, k) is not None]
        if given:
            raise ConfigError(
                f"{OWNER}: preset {config.preset!r} fixes mean and std; remove "
                f"{', '.join(repr(g) for g in given)} or the preset."
            )
        mean, std = PRESETS[config.preset]["mean"], PRESETS[config.preset]["std"]
    if mean is not None:
        dim = len(vector(mean, "mean", OWNER))
    elif cov is not None:
        dim = len(cov)
    elif std is not None and not isinstance(std, (int, float)):
        dim = len(std)
    else:
        dim = 2
    mean_vec = np.zeros(dim) if mean is None else vector(mean, "mean", OWNER, dim=dim)
    return mean_vec, cholesky_from(std, cov, dim, "", OWNER)


class Gaussian(Distribution):
    """A multivariate normal distribution N(mean, cov).

    Give ``std`` (a number or one value per dimension; a diagonal covariance) or ``cov`` (a full symmetric
    positive-definite matrix), or neither for unit variance. ``mean`` defaults to zero; the dimension is
    whichever of mean/std/cov is a list (2 when none is). ``preset = "paper_shifted"`` is the paper's shifted
    Gaussian, mean (1, 1) and std (0.5, 0.5).
    """

    name = "gaussian"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        mean: tuple[float, ...] | None = None
        std: float | tuple[float, ...] | None = None
        cov: tuple[tuple[float, ...], ...] | None = None
        preset: Literal["paper_shifted"] | None = None

        def __post_init__(self) -> None:
            resolve(self)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.mean, self.chol = resolve(self.config)

    @property
    def dim(self) -> int:
        return len(self.mean)

    @property
    def cov(self) -> np.ndarray:
        return self.chol @ self.chol.T

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((self._check_n(n), self.dim))
        return self.mean + z @ self.chol.T

    def log_prob(self, x: Any) -> np.ndarray:
        return log_normal(self._check_x(x), self.mean, self.chol)
