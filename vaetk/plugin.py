"""The small contract every plugin class shares, whatever its group.

A plugin is a class with a frozen dataclass ``Config`` (its parameters, parsed strictly from TOML by
:func:`vaetk.config.parse_config`) and the methods its group requires. Each group's base class (``Solver``,
``Distribution``, ``Prior``, ``Architecture``, ``Metric``) subclasses :class:`Plugin` and names its group and its
required methods; the registry checks them when a plugin is first loaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["Plugin"]


class Plugin:
    """Mixin for plugin base classes.

    Attributes
    ----------
    plugin_group : str
        Registry group key (``"solvers"``, ``"priors"``, ...), set by each group's base class.
    required_methods : tuple of str
        Methods a plugin of the group must define, with explicit parameters (no ``*args``/``**kwargs``).
    Config : type
        A frozen dataclass holding the plugin's parameters; every field has a default so ``Config()`` is valid.
    """

    plugin_group: ClassVar[str] = ""
    required_methods: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[Any]]

    @classmethod
    def example_config(cls) -> Any:
        """A small, valid configuration used by the contract checks (override when ``Config()`` is too big)."""
        return cls.Config()
