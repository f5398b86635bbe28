"""VAE components: the base classes of the ``priors`` and ``architectures`` plugin groups.

Importing :mod:`vaetk.models` is light; torch is imported only when a base class is first used. Concrete
priors and architectures are plugins (built-ins in ``vaetk_plugins.priors`` / ``vaetk_plugins.architectures``),
found through the registry::

    from vaetk.registry import registry
    Prior = registry.priors.get("hierarchical")
    prior = Prior(Prior.Config(), latent_dim=2)
"""

from __future__ import annotations

from typing import Any

__all__ = ["Architecture", "Prior"]


def __getattr__(name: str) -> Any:
    if name == "Architecture":
        from vaetk.models.architectures import Architecture

        return Architecture
    if name == "Prior":
        from vaetk.models.priors import Prior

        return Prior
    raise AttributeError(f"module 'vaetk.models' has no attribute {name!r}")
