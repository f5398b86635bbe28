"""Generative-parameter distributions p(theta): the ``vaetk.distributions`` plugin group.

A plugin subclasses :class:`Distribution`, nests a ``@dataclass(frozen=True, kw_only=True)`` ``Config`` (fields
all have a default; values checked in ``Config.__post_init__``) and implements ``dim``, ``sample(n, rng)`` and
``log_prob(x)``. Instances are built as ``cls(config)`` (a ``Config``, a table of its fields or None), or by name::

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


class Distribution(Plugin):
    """Base class of parameter distributions p(theta) on R^dim.

    Parameters
    ----------
    config : Config or mapping, optional
        The plugin's parameters: a ``Config``, a table parsed strictly into one, or None (``Config()``).
        Distributions take no context.

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
