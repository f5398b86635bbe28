"""The plugin registry: entry-point groups, lazy per-name loading, conflicts and in-process registration.

Every component vaetk composes (solvers, parameter distributions, priors, architectures, metrics) is a plugin
found through an entry-point group, built-ins included (they live in ``vaetk_plugins`` and are declared in
vaetk's own ``pyproject.toml``). The rules:

- Listing reads installed metadata only and never imports plugin code.
- ``get(name)`` imports that one plugin on first use, validates it against its group's contract and caches it.
  A plugin that fails to import is reported then, and only then, with its distribution, version, the cause and
  what to run; other plugins are never touched.
- An unknown name gets close-match suggestions. Two distributions providing one name is an error naming both,
  unless the caller picks one with ``provider=``.
- ``register``/``temporarily`` add plugins in-process (notebooks, tests); ``isolated()`` hides installed ones.

Examples
--------
>>> from vaetk.registry import registry
>>> "vaetk.solvers" == registry.solvers.entry_point_group
True
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import importlib
import importlib.metadata as metadata
import inspect
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vaetk._validation import did_you_mean
from vaetk.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    PluginValidationError,
    VaetkDeprecationWarning,
)

__all__ = ["GROUPS", "PluginGroup", "PluginInfo", "Registry", "registry"]


@dataclass(frozen=True)
class GroupSpec:
    key: str
    entry_point_group: str
    kind: str  # singular noun used in messages: "prior", "solver", ...
    base: str  # "module:attr" of the group's base class, imported only when a plugin is validated


GROUPS: dict[str, GroupSpec] = {
    spec.key: spec
    for spec in (
        GroupSpec("solvers", "vaetk.solvers", "solver", "vaetk.darcy.solvers:Solver"),
        GroupSpec("distributions", "vaetk.distributions", "distribution", "vaetk.distributions:Distribution"),
        GroupSpec("priors", "vaetk.priors", "prior", "vaetk.models.priors:Prior"),
        GroupSpec("architectures", "vaetk.architectures", "architecture", "vaetk.models.architectures:Architecture"),
        GroupSpec("metrics", "vaetk.metrics", "metric", "vaetk.metrics.base:Metric"),
    )
}

IN_PROCESS = "<in-process>"


@dataclass(frozen=True)
class PluginInfo:
    """Metadata of one plugin, read without importing it.

    Attributes
    ----------
    name : str
        Registry name (snake_case).
    group : str
        Group key (``"priors"``, ...).
    value : str
        Entry-point value ``"module:attr"`` (or the qualified name of an in-process registration).
    distribution : str
        Distribution (pip package) that provides it, or ``"<in-process>"``.
    version : str
        That distribution's version ("" for in-process registrations).
    """

    name: str
    group: str
    value: str
    distribution: str
    version: str

    @property
    def provenance(self) -> str:
        return f"{self.value}, from {self.distribution} {self.version}".rstrip()


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _load_base(spec: GroupSpec) -> type:
    module, _, attr = spec.base.partition(":")
    return getattr(importlib.import_module(module), attr)


class PluginGroup:
    """The plugins of one entry-point group.

    Parameters
    ----------
    spec : GroupSpec
        Which group (see ``GROUPS``).
    """

    def __init__(self, spec: GroupSpec) -> None:
        self.spec = spec
        self.discover = True
        self._entry_points: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] | None = None
        self._registered: dict[str, tuple[PluginInfo, Any]] = {}
        self._loaded: dict[tuple[str, str], Any] = {}
        self.aliases: dict[str, str] = {}  # deprecated name -> current name

    # -- metadata ---------------------------------------------------------------------------------------------
    @property
    def entry_point_group(self) -> str:
        return self.spec.entry_point_group

    def refresh(self) -> None:
        """Forget cached metadata and loaded classes (after installing or removing a plugin package)."""
        self._entry_points = None
        self._loaded.clear()

    def _installed(self) -> dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]]:
        if not self.discover:
            return {}
        if self._entry_points is None:
            found: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] = {}
            seen: set[tuple[str, str, str]] = set()
            for ep in metadata.entry_points(group=self.spec.entry_point_group):
                dist = getattr(ep, "dist", None)
                dist_name = dist.metadata["Name"] if dist is not None else "<unknown distribution>"
                version = dist.version if dist is not None else ""
                key = (ep.name, _normalise_dist(dist_name), ep.value)
                if key in seen:  # the same distribution seen twice on sys.path
                    continue
                seen.add(key)
                info = PluginInfo(ep.name, self.spec.key, ep.value, dist_name, version)
                found.setdefault(ep.name, []).append((info, ep))
            self._entry_points = found
        return self._entry_points

    def entries(self) -> list[PluginInfo]:
        """Every plugin of the group (duplicates included), sorted by name. Never imports plugin code."""
        infos = [info for pairs in self._installed().values() for info, _ in pairs]
        infos += [info for info, _ in self._registered.values()]
        return sorted(infos, key=lambda i: (i.name, i.distribution))

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted unique plugin names, optionally filtered with an fnmatch ``pattern`` such as ``"gauss*"``."""
        names = sorted({info.name for info in self.entries()})
        return [n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._registered or name in self._installed())

    def info(self, name: str, *, provider: str | None = None) -> PluginInfo:
        """Metadata of the plugin ``name`` resolves to (after aliases, provider choice and conflict checks)."""
        return self._resolve(name, provider)[0]

    # -- resolution -------------------------------------------------------------------------------------------
    def _resolve(self, name: str, provider: str | None) -> tuple[PluginInfo, Any]:
        if name in self.aliases:
            new = self.aliases[name]
            warnings.warn(
                f"The {self.spec.kind} name {name!r} is deprecated; use {new!r} instead.",
                VaetkDeprecationWarning,
                stacklevel=4,
            )
            name = new
        if name in self._registered and provider in (None, IN_PROCESS):
            return self._registered[name]
        candidates = self._installed().get(name, [])
        if provider is not None:
            candidates = [c for c in candidates if _normalise_dist(c[0].distribution) == _normalise_dist(provider)]
            if not candidates:
                providers = sorted(info.distribution for info, _ in self._installed().get(name, []))
                raise PluginNotFoundError(
                    f"No {self.spec.kind} {name!r} is provided by distribution {provider!r}. "
                    + (f"It is provided by: {', '.join(providers)}." if providers else self._available())
                )
        if not candidates:
            raise PluginNotFoundError(self._not_found_message(name))
        if len(candidates) > 1:
            lines = "; ".join(info.provenance for info, _ in candidates)
            raise PluginConflictError(
                f"The {self.spec.kind} name {name!r} is provided by more than one distribution: {lines}. "
                f"Pick one with `provider = \"<distribution>\"` in the config (or provider= in Python), "
                f"or uninstall one of them."
            )
        return candidates[0]

    def _available(self) -> str:
        names = self.names()
        return f"Available: {', '.join(names)}." if names else f"No {self.spec.kind}s are installed."

    def _not_found_message(self, name: str) -> str:
        names = self.names()
        hint = did_you_mean(name, names, n=3)
        return (
            f"Unknown {self.spec.kind} {name!r}.{hint} {self._available()} Plugins come from the "
            f"{self.spec.entry_point_group!r} entry-point group; see `vaetk plugins list --group {self.spec.key}`."
        )

    def get(self, name: str, *, provider: str | None = None) -> Any:
        """Import (once), validate and return the plugin class registered as ``name``.

        Parameters
        ----------
        name : str
            Registry name.
        provider : str, optional
            Distribution to take the plugin from when several provide ``name``.

        Raises
        ------
        PluginNotFoundError
            Unknown name (the message lists close matches and what is available).
        PluginConflictError
            Several distributions provide ``name`` and no provider was given.
        PluginLoadError
            The plugin's module failed to import.
        PluginValidationError
            The plugin does not satisfy its group's contract.
        """
        info, target = self._resolve(name, provider)
        key = (info.name, info.distribution)
        if key in self._loaded:
            return self._loaded[key]
        # Installed plugins are entry points; in-process ones are the objects themselves. (Not an isinstance test:
        # once the importlib_metadata backport is imported, e.g. by dask.distributed, entry points are its class.)
        if info.distribution != IN_PROCESS:
            try:
                obj = target.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"{self.spec.kind.capitalize()} {info.name!r} ({info.provenance}) failed to import: "
                    f"{type(exc).__name__}: {exc}. Run `vaetk plugins check {info.name}` for details, "
                    f"or reinstall/upgrade {info.distribution}."
                ) from exc
        else:
            obj = target
        self.validate(obj, info)
        self._loaded[key] = obj
        return obj

    # -- validation -------------------------------------------------------------------------------------------
    def validate(self, obj: Any, info: PluginInfo | None = None) -> None:
        """Check ``obj`` against the group's contract; raise PluginValidationError naming what is missing."""
        where = (
            f"{self.spec.kind} {info.name!r} ({info.provenance})" if info else f"{self.spec.kind} {obj!r}"
        )
        base = _load_base(self.spec)
        problems: list[str] = []
        if not (inspect.isclass(obj) and issubclass(obj, base)):
            problems.append(f"it must be a subclass of {base.__module__}.{base.__qualname__}, got {obj!r}")
        else:
            config = getattr(obj, "Config", None)
            if not (inspect.isclass(config) and dataclasses.is_dataclass(config)):
                problems.append("it must define a `Config` dataclass holding its parameters")
            for method in getattr(base, "required_methods", ()):
                func = getattr(obj, method, None)
                if not callable(func) or getattr(func, "__isabstractmethod__", False):
                    problems.append(f"it must implement `{method}()`")
                    continue
                params = inspect.signature(func).parameters.values()
                catch_all = [p.name for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
                if catch_all:
                    problems.append(
                        f"`{method}()` must declare its parameters explicitly, not catch-all "
                        f"{', '.join('*' + n for n in catch_all)}"
                    )
        if problems:
            raise PluginValidationError(f"Invalid {where}: " + "; ".join(problems) + ".")

    # -- in-process registration ------------------------------------------------------------------------------
    def register(self, name: str, obj: Any, *, override: bool = False) -> None:
        """Register ``obj`` as ``name`` in this process (validated now).

        Raises
        ------
        PluginConflictError
            If ``name`` is already installed or registered and ``override`` is False.
        """
        if not override and name in self:
            existing = self.info(name) if name in self._registered else self._installed()[name][0][0]
            raise PluginConflictError(
                f"Cannot register {self.spec.kind} {name!r}: it already exists ({existing.provenance}). "
                "Pass override=True to shadow it in this process, or choose another name."
            )
        value = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"
        info = PluginInfo(name, self.spec.key, value, IN_PROCESS, "")
        self.validate(obj, info)
        self._registered[name] = (info, obj)
        self._loaded.pop((name, IN_PROCESS), None)

    def unregister(self, name: str) -> None:
        """Remove an in-process registration (installed plugins cannot be removed this way)."""
        self._registered.pop(name, None)
        self._loaded.pop((name, IN_PROCESS), None)

    @contextlib.contextmanager
    def temporarily(self, name: str, obj: Any) -> Iterator[None]:
        """Register ``obj`` as ``name`` (shadowing any plugin of that name) for the duration of a ``with``."""
        previous = self._registered.get(name)
        self.register(name, obj, override=True)
        try:
            yield
        finally:
            if previous is None:
                self.unregister(name)
            else:
                self._registered[name] = previous
                self._loaded.pop((name, IN_PROCESS), None)


class Registry:
    """All plugin groups; ``registry.priors``, ``registry.solvers``, ... or ``registry.group("priors")``."""

    def __init__(self) -> None:
        self._groups = {key: PluginGroup(spec) for key, spec in GROUPS.items()}

    def __getattr__(self, key: str) -> PluginGroup:
        groups = self.__dict__.get("_groups", {})
        if key in groups:
            return groups[key]
        raise AttributeError(key)

    def group(self, key: str) -> PluginGroup:
        """The group ``key`` (one of ``GROUPS``), with a suggestion for a misspelled key."""
        if key not in self._groups:
            hint = did_you_mean(key, self._groups)
            raise PluginNotFoundError(
                f"Unknown plugin group {key!r}.{hint} Groups: {', '.join(self._groups)}."
            )
        return self._groups[key]

    def groups(self) -> list[PluginGroup]:
        return list(self._groups.values())

    def refresh(self) -> None:
        for group in self._groups.values():
            group.refresh()

    @contextlib.contextmanager
    def isolated(self) -> Iterator[Registry]:
        """Hide installed plugins and in-process registrations inside a ``with`` block (restored after)."""
        saved = {k: (g.discover, dict(g._registered), dict(g._loaded)) for k, g in self._groups.items()}
        for group in self._groups.values():
            group.discover = False
            group._registered.clear()
            group._loaded.clear()
        try:
            yield self
        finally:
            for key, (discover, registered, loaded) in saved.items():
                group = self._groups[key]
                group.discover, group._registered, group._loaded = discover, registered, loaded


registry = Registry()
