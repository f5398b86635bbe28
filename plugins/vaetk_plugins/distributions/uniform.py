"""``uniform``: theta uniform on the box [low, high]."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vaetk.plugin import Distribution, check_param
from vaetk_plugins.distributions._gaussian import vector

OWNER = "distribution 'uniform'"


def resolve(config: Any) -> tuple[np.ndarray, np.ndarray]:
    low = vector(config.low, "low", OWNER)
    high = vector(config.high, "high", OWNER, dim=len(low))
    check_param(bool(np.all(high > low)), "high", "greater than 'low' in every dimension", config.high, OWNER)
    return low, high


class Uniform(Distribution):
    """The uniform distribution on the box prod_i [low_i, high_i]."""

    name = "uniform"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        low: tuple[float, ...] = (0.0, 0.0)
        high: tuple[float, ...] = (1.0, 1.0)

        def __post_init__(self) -> None:
            resolve(self)

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.low, self.high = resolve(self.config)

    @property
    def dim(self) -> int:
        return len(self.low)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.low, self.high, size=(self._check_n(n), self.dim))

    def log_prob(self, x: Any) -> np.ndarray:
        x = self._check_x(x)
        inside = np.all((x >= self.low) & (x <= self.high), axis=1)
        return np.where(inside, -np.log(self.high - self.low).sum(), -np.inf)
