"""The public API for plugin authors: base classes, configuration checks, errors and the numerical helpers.

Every plugin of every group follows one idiom:

- it nests its parameters as ``Config``, a ``@dataclass(frozen=True, kw_only=True)`` whose fields all have
  defaults, and checks their values in ``Config.__post_init__`` (with :func:`check_param`, which raises
  :class:`ConfigError`); only checks that need the construction context (``latent_dim``, ``input_shape``) are
  left to ``__init__``;
- it is built as ``cls(config, **context)``: ``config`` is a ``Config`` instance, a mapping (a TOML table,
  parsed strictly into ``Config``: unknown keys are errors with suggestions) or None (``Config()``), and the
  context keywords are the group's (priors: ``latent_dim``; architectures: ``input_shape``, ``latent_dim``;
  solvers, distributions, metrics: none). :class:`Plugin` does that normalisation, once for every group;
- its group's base class (``Solver``, ``Distribution``, ``Prior``, ``Architecture``, ``Metric``) subclasses
  :class:`Plugin`, an :class:`abc.ABC`, and declares the required methods with :func:`abc.abstractmethod`; the
  registry checks them when a plugin is first loaded, and :mod:`vaetk.testing` checks the idiom and the group's
  contract.

Everything a plugin needs from vaetk is importable from this module, and only the names listed here are
promised to stay put::

    from vaetk.plugin import Prior, check_param, diag_gaussian_log_prob

Only :class:`Plugin` is defined here; every other name is imported from where it lives on first access, so
``import vaetk.plugin`` loads neither torch, nor scipy, nor the compiled core.

Common to every group
    :class:`Plugin` (the mixin of the base classes), :func:`check_param` (one-line ``Config.__post_init__``
    checks), the error and warning types of :mod:`vaetk.errors` (:class:`ConfigError`, :class:`DataError`,
    :class:`SolverError`, :class:`ComponentError`, ...), and for a plugin package's own tests
    :func:`parametrize_with_checks` and :func:`check_plugin` (the contract checks of :mod:`vaetk.testing`).

Solvers (``vaetk.solvers``)
    :class:`Solver`, :class:`SolverResult`; :func:`bordered_rhs`, :func:`raise_if_unconverged`; the compiled
    Darcy kernels :func:`assemble` (returns a :class:`BatchOperator`), :func:`bordered_matrices`,
    :func:`mg_solve`; :func:`trapezoid_weights` (the dual-cell areas of the zero-mean constraint) and
    :func:`reference_solve` (the pure-NumPy sparse-LU solve of one sample); for solvers on a torch device
    :func:`check_device` (the form of a ``device`` setting, no torch needed), :func:`resolve_device`,
    :func:`auto_batch_size` and :func:`torch_solve` (the batched multigrid-Krylov solve of
    :mod:`vaetk.darcy._torch_solver`).

Distributions (``vaetk.distributions``)
    :class:`Distribution`.

Priors (``vaetk.priors``)
    :class:`Prior` and the diagonal-Gaussian helpers of :mod:`vaetk.models.gaussian`: :data:`LOG_2PI`,
    :func:`diag_gaussian_log_prob`, :func:`sample_log_density`, :func:`unrepresentable_logvar`,
    :func:`kl_diag_gaussians`, :func:`kl_to_standard_normal`.

Architectures (``vaetk.architectures``)
    :class:`Architecture`, :func:`conv_output_size`, :func:`center_crop`.

Metrics (``vaetk.metrics``)
    :class:`Metric`; the KSG mutual-information estimator :func:`ksg_mi`, its ceiling :func:`ksg_ceiling` and
    :func:`standardise`; the k-NN tools :func:`knn_distances`, :func:`knn_kl_divergence` (with its per-sample
    :class:`KLTerms`), :func:`wkv_terms` (the WKV terms without input checks, for repeated evaluations) and
    :class:`WkvFixedX` (the WKV estimate for one fixed sample of P against many affine maps of a sample of Q).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from vaetk import errors as _errors
from vaetk._lazy import lazy_exports

_EXPORTS = {
    # every group
    "check_param": "vaetk.config",
    **dict.fromkeys(_errors.__all__, "vaetk.errors"),  # every error and warning type
    "check_plugin": "vaetk.testing",
    "parametrize_with_checks": "vaetk.testing",
    # solvers
    "Solver": "vaetk.darcy.solvers",
    "SolverResult": "vaetk.darcy.solvers",
    "bordered_rhs": "vaetk.darcy.solvers",
    "raise_if_unconverged": "vaetk.darcy.solvers",
    "BatchOperator": "vaetk.darcy._kernels",
    "assemble": "vaetk.darcy._kernels",
    "bordered_matrices": "vaetk.darcy._kernels",
    "mg_solve": "vaetk.darcy._kernels",
    "check_device": "vaetk.darcy._solve",
    "auto_batch_size": "vaetk.darcy._torch_solver",
    "resolve_device": "vaetk.darcy._torch_solver",
    "torch_solve": "vaetk.darcy._torch_solver",
    "trapezoid_weights": "vaetk.darcy._sources",
    "reference_solve": "vaetk.darcy._reference",
    # distributions
    "Distribution": "vaetk.distributions",
    # priors
    "Prior": "vaetk.models.priors",
    "LOG_2PI": "vaetk.models.gaussian",
    "diag_gaussian_log_prob": "vaetk.models.gaussian",
    "kl_diag_gaussians": "vaetk.models.gaussian",
    "kl_to_standard_normal": "vaetk.models.gaussian",
    "sample_log_density": "vaetk.models.gaussian",
    "unrepresentable_logvar": "vaetk.models.gaussian",
    # architectures
    "Architecture": "vaetk.models.architectures",
    "center_crop": "vaetk.models.architectures",
    "conv_output_size": "vaetk.models.architectures",
    # metrics
    "Metric": "vaetk.metrics.base",
    "ksg_ceiling": "vaetk.metrics._mi",
    "ksg_mi": "vaetk.metrics._mi",
    "standardise": "vaetk.metrics._mi",
    "KLTerms": "vaetk.metrics.knn",
    "WkvFixedX": "vaetk.metrics.knn",
    "knn_distances": "vaetk.metrics.knn",
    "knn_kl_divergence": "vaetk.metrics.knn",
    "wkv_terms": "vaetk.metrics.knn",
}

_lazy_names, __getattr__, _ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(["Plugin", *_lazy_names])


def __dir__() -> list[str]:
    """The module's attributes and every lazily exported name (not imported yet or already cached)."""
    return sorted(set(globals()) | set(__all__))


class Plugin(abc.ABC):
    """Mixin of the plugin base classes: the group's name, the required methods and the one way to build a plugin.

    Parameters
    ----------
    config : Config or mapping, optional
        The plugin's parameters: an instance of its ``Config``, a table of ``Config``'s fields (parsed strictly,
        see :meth:`make_config`), or None for ``Config()``. Stored, parsed, as ``self.config``.

    Attributes
    ----------
    plugin_group : str
        Registry group key (``"solvers"``, ``"priors"``, ...), set by each group's base class.
    required_methods : tuple of str
        Methods a plugin of the group must define, with explicit parameters (no ``*args``/``**kwargs``).
    name : str
        Registry name used in messages (the class name when empty); see :meth:`owner`.
    Config : type
        The plugin's nested ``@dataclass(frozen=True, kw_only=True)``; every field has a default so ``Config()`` is
        valid, and ``Config.__post_init__`` checks the values.
    config : Config
        The instance's parameters.

    Notes
    -----
    Group base classes take the group's context keywords after ``config`` and call ``super().__init__(config)``
    first; a plugin's ``__init__`` (when it needs one) does the same and then reads ``self.config``, never its
    ``config`` argument, which may be a mapping.
    """

    plugin_group: ClassVar[str] = ""
    required_methods: ClassVar[tuple[str, ...]] = ()
    name: ClassVar[str] = ""
    Config: ClassVar[type[Any]]

    def __init__(self, config: Any = None) -> None:
        super().__init__()  # the next base in the MRO (torch.nn.Module for priors and architectures)
        self.config = self.make_config(config)

    @classmethod
    def owner(cls) -> str:
        """How messages name this plugin: its group's kind and its registry name, e.g. ``"prior 'hierarchical'"``."""
        return f"{cls.plugin_group.removesuffix('s') or 'plugin'} {cls.name or cls.__name__!r}"

    @classmethod
    def make_config(cls, config: Any = None, *, path: str | None = None) -> Any:
        """The plugin's ``Config`` from ``config``: itself if it is one, ``Config()`` for None, or a mapping parsed
        strictly with :func:`vaetk.config.parse_config`.

        Parameters
        ----------
        config : Config or mapping or None
            The parameters.
        path : str, optional
            Where a mapping lives in a configuration file, for messages (default: :meth:`owner`).

        Raises
        ------
        ConfigError
            An unknown key (with a close-match suggestion), a value of the wrong type, a value ``Config`` refuses,
            or a ``config`` that is neither a ``Config`` nor a mapping.
        """
        from vaetk.config import parse_config

        if config is None:
            return cls.Config()
        if isinstance(config, cls.Config):
            return config
        if isinstance(config, Mapping):
            return parse_config(cls.Config, config, path=path or cls.owner())
        fields = ", ".join(f.name for f in dataclasses.fields(cls.Config))
        raise _errors.ConfigError(
            f"{path or cls.owner()}: config must be a {cls.Config.__qualname__} instance or a table of its fields "
            f"({fields or 'none'}); got {config!r}."
        )

    @classmethod
    def example_config(cls) -> Any:
        """A small, valid configuration used by the contract checks (override when ``Config()`` is too big)."""
        return cls.Config()
