"""Checks that an architecture, a prior and a dataset fit together (used when a model is composed)."""

from __future__ import annotations

from typing import Any

from vaetk.errors import ConfigError

__all__ = ["check_compatible"]


def check_compatible(architecture: Any, prior: Any, *, data_shape: tuple[int, ...] | None = None) -> None:
    """Raise ConfigError unless ``architecture`` and ``prior`` share a latent dimension (and, when given,
    ``data_shape`` = (C, H, W) is the architecture's input shape).

    Examples
    --------
    >>> from vaetk.registry import registry
    >>> Small, Gauss = registry.architectures.get("small"), registry.priors.get("standard_normal")
    >>> check_compatible(Small(Small.Config(), input_shape=(3, 9, 9), latent_dim=3),  # doctest: +ELLIPSIS
    ...                  Gauss(Gauss.Config(), latent_dim=2))
    Traceback (most recent call last):
    ...
    vaetk.errors.ConfigError: The architecture 'small' has latent_dim 3 but the prior 'standard_normal' ...
    """
    if architecture.latent_dim != prior.latent_dim:
        raise ConfigError(f"The {architecture.owner()} has latent_dim {architecture.latent_dim} but the "
                          f"{prior.owner()} has latent_dim {prior.latent_dim}; set the same latent_dim for both.")
    if data_shape is not None and tuple(data_shape) != tuple(architecture.input_shape):
        raise ConfigError(f"The dataset's samples have shape {tuple(data_shape)} (channels, height, width) but "
                          f"the {architecture.owner()} was built for input_shape {architecture.input_shape}.")
