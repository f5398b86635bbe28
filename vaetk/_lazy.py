"""Lazy package exports: public names that live in submodules, imported on first use (keeps ``import vaetk.x``
cheap: no torch, scipy or compiled core until a name that needs them is touched)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in module ``exports[n]``.

    Use as ``__all__, __getattr__, __dir__ = lazy_exports(__name__, {...})`` in the package's ``__init__``.
    """
    names = sorted(exports)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
