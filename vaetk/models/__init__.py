"""VAE components: the base classes of the ``priors`` and ``architectures`` plugin groups.

Importing :mod:`vaetk.models` is light; torch is imported only when a base class is first used. Concrete
priors and architectures are plugins (built-ins in ``vaetk_plugins.priors`` / ``vaetk_plugins.architectures``),
found through the registry::

    from vaetk.registry import registry
    Prior = registry.priors.get("hierarchical")
    prior = Prior(Prior.Config(), latent_dim=2)
"""

from __future__ import annotations

from vaetk._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Architecture": "vaetk.models.architectures",
    "Prior": "vaetk.models.priors",
})
