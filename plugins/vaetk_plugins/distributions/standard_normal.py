"""``standard_normal``: theta ~ N(0, I_dim), the paper's first dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vaetk.plugin import Distribution, check_param
from vaetk_plugins.distributions._gaussian import LOG_2PI


class StandardNormal(Distribution):
    """The standard normal distribution on R^dim."""

    name = "standard_normal"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """dim: dimension of theta (the number of KLE modes s)."""

        dim: int = 2

        def __post_init__(self) -> None:
            check_param(self.dim >= 1, "dim", "an int >= 1", self.dim, "distribution 'standard_normal'")

    @property
    def dim(self) -> int:
        return self.config.dim

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((self._check_n(n), self.dim))

    def log_prob(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        return -0.5 * (np.sum(x * x, axis=1) + self.dim * LOG_2PI)
