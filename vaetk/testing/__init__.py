"""Contract checks for plugin authors (and for vaetk's own plugins).

A plugin package tests itself against vaetk's contracts in two lines of pytest::

    from vaetk.testing import parametrize_with_checks

    @parametrize_with_checks([MyPrior, MySolver])
    def test_vaetk_contract(plugin, check):
        check(plugin)

Each group (solvers, distributions, priors, architectures, metrics) has its checks in ``vaetk.testing._<group>``;
a check is a function taking the plugin class and raising AssertionError (with a message) when the plugin
breaks the contract. Every group's checks start with the idiom checks of ``vaetk.testing._idiom`` (a nested,
frozen, keyword-only ``Config`` with defaults; construction from a mapping equal to construction from the
``Config``; values refused by ``Config.__post_init__``, not by ``__init__``, unless the refusal needs the
construction context). ``vaetk plugins check`` runs the same checks on installed plugins, and vaetk's own test
suite runs them on every installed plugin.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from vaetk.registry import GROUPS, Registry, registry

__all__ = [
    "Check",
    "CheckResult",
    "check_plugin",
    "checks_for",
    "group_of",
    "parametrize_with_checks",
    "temporary_registry",
]

_CHECK_MODULES = {key: f"vaetk.testing._{key}" for key in GROUPS}


@dataclass(frozen=True)
class Check:
    """One contract check: ``func(plugin_class)`` raises AssertionError on failure."""

    name: str
    func: Callable[[type], None]
    fast: bool = True  # part of `vaetk plugins check` (slow checks run only in test suites)

    def __call__(self, plugin: type) -> None:
        self.func(plugin)

    def __repr__(self) -> str:  # shown in pytest ids
        return self.name


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    message: str = ""
    seconds: float = 0.0
    traceback: str = ""


def group_of(plugin: type) -> str:
    """The registry group a plugin class belongs to (its base class's ``plugin_group``)."""
    group = getattr(plugin, "plugin_group", "")
    if group not in GROUPS:
        raise TypeError(
            f"{plugin!r} is not a vaetk plugin class: it must subclass one of the group base classes "
            f"({', '.join(spec.base for spec in GROUPS.values())})."
        )
    return group


def checks_for(group: str, *, fast_only: bool = False) -> list[Check]:
    """The contract checks of ``group`` (``"solvers"``, ``"priors"``, ...)."""
    checks: list[Check] = list(importlib.import_module(_CHECK_MODULES[group]).CHECKS)
    return [c for c in checks if c.fast or not fast_only]


def check_plugin(plugin: type, *, fast_only: bool = False) -> list[CheckResult]:
    """Run every check of the plugin's group on ``plugin`` and collect the results (never raises for a failure)."""
    group = group_of(plugin)
    results = []
    try:
        registry.group(group).validate(plugin)
    except Exception as exc:  # the structural contract comes first; the others would only add noise
        return [CheckResult("structure", False, str(exc), 0.0, traceback.format_exc())]
    results.append(CheckResult("structure", True))
    for check in checks_for(group, fast_only=fast_only):
        start = time.perf_counter()
        try:
            check(plugin)
        except Exception as exc:
            results.append(CheckResult(check.name, False, f"{type(exc).__name__}: {exc}",
                                       time.perf_counter() - start, traceback.format_exc()))
        else:
            results.append(CheckResult(check.name, True, "", time.perf_counter() - start))
    return results


def parametrize_with_checks(plugins: Sequence[type]) -> Any:
    """A ``pytest.mark.parametrize`` over every (plugin, check) pair, with readable test ids.

    Parameters
    ----------
    plugins : sequence of plugin classes
        Each must subclass one of vaetk's group base classes.
    """
    import pytest

    def structure(plugin: type) -> None:
        registry.group(group_of(plugin)).validate(plugin)

    params = []
    for plugin in plugins:
        checks = [Check("structure", structure), *checks_for(group_of(plugin))]
        for check in checks:
            params.append(pytest.param(plugin, check, id=f"{plugin.__name__}-{check.name}"))
    return pytest.mark.parametrize(("plugin", "check"), params)


@contextmanager
def temporary_registry() -> Iterator[Registry]:
    """A registry that sees no installed plugins, only what the test registers (restored afterwards).

    Examples
    --------
    >>> from vaetk.testing import temporary_registry
    >>> with temporary_registry() as reg:
    ...     reg.solvers.names()
    []
    """
    with registry.isolated() as isolated:
        yield isolated
