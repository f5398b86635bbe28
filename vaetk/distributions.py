"""Generative-parameter distributions p(theta): the ``vaetk.distributions`` plugin group.

A plugin subclasses :class:`Distribution`, declares a frozen dataclass ``Config`` (fields all have a
default) and implements ``sample(n, rng)`` and ``log_prob(x)``. Instances are built from a config::

    >>> import numpy as np
    >>> from vaetk.distributions import create
    >>> dist = create("gaussian", {"preset": "paper_shifted"})
    >>> dist.dim, dist.sample(3, np.random.default_rng(0)).shape
    (2, (3, 2))

Randomness comes only from the ``numpy.random.Generator`` passed to ``sample``, so a caller that seeds the
generator (dataset generation derives one per sample) gets reproducible draws.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from vaetk._validation import is_int
from vaetk.errors import ConfigError
from vaetk.plugin import Plugin

__all__ = ["Distribution", "create"]


class Distribution(Plugin, abc.ABC):
    """Base class of parameter distributions p(theta) on R^dim.

    Parameters
    ----------
    config : Config, optional
        The plugin's parameters (``Config()`` when omitted).

    Notes
    -----
    Subclasses implement

    - ``sample(n, rng)``: ``n`` draws as a float64 array of shape ``(n, dim)``, using only ``rng``;
    - ``log_prob(x)``: the log-density at each row of ``x`` (shape ``(m, dim)``) as shape ``(m,)``, ``-inf``
      outside the support;
    - the ``dim`` property.
    """

    plugin_group: ClassVar[str] = "distributions"
    required_methods: ClassVar[tuple[str, ...]] = ("sample", "log_prob")

    def __init__(self, config: Any = None) -> None:
        self.config = self.Config() if config is None else config
        if not isinstance(self.config, self.Config):
            raise ConfigError(
                f"{type(self).__name__} needs its own Config class, got {type(self.config).__name__}."
            )

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Dimension s of theta."""

    @abc.abstractmethod
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, float64 of shape ``(n, dim)``, using only ``rng``."""

    @abc.abstractmethod
    def log_prob(self, x: Any) -> np.ndarray:
        """Log-density at each row of ``x`` (shape ``(m, dim)``), shape ``(m,)``; ``-inf`` off the support."""

    # -- helpers for subclasses -----------------------------------------------------------------------------
    def _check_n(self, n: Any) -> int:
        if not is_int(n, 0, allow_numpy=True):
            raise ConfigError(f"{type(self).__name__}.sample: n must be an int >= 0, got {n!r}.")
        return int(n)

    def _check_x(self, x: Any) -> np.ndarray:
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 1 and self.dim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise ConfigError(
                f"{type(self).__name__}.log_prob: x must have shape (m, {self.dim}), got shape {arr.shape}."
            )
        return arr

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def create(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    provider: str | None = None,
    path: str = "distribution",
) -> Distribution:
    """Build the distribution plugin ``name`` from its parameters (strictly parsed).

    Parameters
    ----------
    name : str
        Registry name (``"standard_normal"``, ``"gaussian"``, ``"gaussian_mixture"``, ``"uniform"``, or a
        third-party one).
    params : mapping, optional
        The plugin's ``Config`` fields.
    provider : str, optional
        Distribution (pip package) to take the plugin from when several provide ``name``.
    path : str
        Where the parameters live in a configuration file (used in error messages).

    Raises
    ------
    PluginNotFoundError
        Unknown name (with close matches).
    ConfigError
        Unknown or invalid parameters (naming the key path).
    """
    from vaetk.config import resolve_component

    table: dict[str, Any] = {"name": name, **dict(params or {})}
    if provider is not None:
        table["provider"] = provider
    cls, config = resolve_component("distributions", table, path=path)
    return cls(config)
