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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from vaetk._validation import did_you_mean
from vaetk.errors import (
    PluginConflictError,
    PluginLoadError,
    PluginNotFoundError,
    PluginValidationError,
    VaetkDeprecationWarning,
    VaetkWarning,
)

__all__ = ["BUILTIN_DISTRIBUTION", "GROUPS", "DistributionProblem", "PluginGroup", "PluginInfo", "Registry", "registry"]


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
    return re.sub(r"[-_.]+", "-", str(name)).lower()


BUILTIN_DISTRIBUTION = "vaetk"  # the distribution whose entry points are the built-in plugins (vaetk_plugins)


def _is_builtin(distribution: str) -> bool:
    return _normalise_dist(distribution) == BUILTIN_DISTRIBUTION


@dataclass(frozen=True)
class DistributionProblem:
    """Installed plugin metadata that could not be used as is.

    Attributes
    ----------
    distribution : str
        The distribution's name (from its folder when ``METADATA`` has none).
    location : str
        Its ``*.dist-info``/``*.egg-info`` folder (or file, with a line number).
    message : str
        What is wrong and what happens because of it.
    group : str or None
        The entry-point group the problem concerns, when it can be told.
    """

    distribution: str
    location: str
    message: str
    group: str | None = None

    def __str__(self) -> str:
        return f"{self.distribution} ({self.location}): {self.message}"


@dataclass(frozen=True)
class _ScannedDistribution:
    name: str
    version: str
    entries: list[tuple[str, str, str]]  # (group, name, value)
    groups: set[str]
    problems: list[DistributionProblem]


# What importlib.metadata.EntryPoint.load accepts: "module[.sub]:attr[.attr] [extras]".
_ENTRY_POINT_VALUE = re.compile(r"^[\w.]+\s*(:\s*[\w.]+\s*)?(\[.*\]\s*)?$")


def _parse_entry_points(text: str, where: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str | None]]]:
    """Parse ``entry_points.txt`` strictly: ``(entries, [(problem, group or None), ...])``; bad lines are skipped
    (and reported) instead of silently dropping the file, as importlib.metadata does for some mistakes."""
    entries: list[tuple[str, str, str]] = []
    problems: list[tuple[str, str | None]] = []
    section: str | None = None
    broken_header: int | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            if line.endswith("]") and line[1:-1].strip():
                section, broken_header = line[1:-1].strip(), None
            else:
                section, broken_header = line.strip("[] \t"), lineno
                problems.append((f"{where} line {lineno}: malformed section header {raw.strip()!r} (expected "
                                 f"'[group]'); the entries under it are ignored", section or None))
            continue
        if section is None:
            problems.append((f"{where} line {lineno}: {raw.strip()!r} is outside any '[group]' section; ignored",
                             None))
            continue
        if broken_header is not None:
            problems.append((f"{where} line {lineno}: entry {raw.strip()!r} ignored (under the malformed header of "
                             f"line {broken_header})", section))
            continue
        name, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not name or not value or not _ENTRY_POINT_VALUE.match(value):
            problems.append((f"{where} line {lineno}: malformed entry {raw.strip()!r} (expected "
                             f"'name = module:attr'); ignored", section))
            continue
        entries.append((section, name, value))
    return entries, problems


def _scan_distributions() -> list[_ScannedDistribution]:
    """Every installed distribution that declares vaetk plugins (first on sys.path wins, like importlib), read
    defensively: nothing in one distribution's metadata can stop the others from being listed."""
    out: list[_ScannedDistribution] = []
    seen: set[str] = set()
    for dist in metadata.distributions():
        path = getattr(dist, "_path", None)
        location = str(path) if path is not None else "<unknown location>"
        try:
            text = dist.read_text("entry_points.txt")
        except Exception as exc:  # unreadable file: say so, go on
            text = None
            read_error: str | None = f"entry_points.txt is unreadable ({type(exc).__name__}: {exc}); ignored"
        else:
            read_error = None
        if read_error is None and (not text or "vaetk." not in text):
            continue
        problems: list[DistributionProblem] = []
        try:  # .get: importlib_metadata (the backport, once imported) raises KeyError for a missing field
            meta = dist.metadata
            name, version = meta.get("Name"), meta.get("Version")
        except Exception as exc:
            name = version = None
            problems.append(DistributionProblem("?", location, f"METADATA is unreadable ({type(exc).__name__}: "
                                                               f"{exc})"))
        stem_name = getattr(dist, "_normalized_name", None)
        if not isinstance(name, str) or not name.strip():
            fallback = stem_name or (path.name.split("-")[0] if path is not None else "<unknown distribution>")
            problems.append(DistributionProblem(
                str(fallback), location,
                f"its METADATA has no Name; its plugins are listed under {fallback!r} (from the folder name). "
                "Reinstall the package to repair its metadata."))
            name = str(fallback)
        key = _normalise_dist(stem_name or name)
        if key in seen:  # the same distribution seen twice on sys.path: the first one is the one importlib uses
            continue
        seen.add(key)
        entries: list[tuple[str, str, str]] = []
        if read_error is not None:
            problems.append(DistributionProblem(name, location, read_error))
        else:
            entries, bad = _parse_entry_points(text or "", f"{location}/entry_points.txt")
            problems += [DistributionProblem(name, location, message, group) for message, group in bad]
        out.append(_ScannedDistribution(name, str(version or ""), entries, {g for g, _, _ in entries}, problems))
    return out


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
        self._problems: list[DistributionProblem] = []
        self._warned_shadow: set[str] = set()
        self.aliases: dict[str, str] = {}  # deprecated name -> current name

    # -- metadata ---------------------------------------------------------------------------------------------
    @property
    def entry_point_group(self) -> str:
        return self.spec.entry_point_group

    def refresh(self) -> None:
        """Forget cached metadata and loaded classes (after installing or removing a plugin package)."""
        self._entry_points = None
        self._problems = []
        self._warned_shadow.clear()
        self._loaded.clear()

    def _installed(self) -> dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]]:
        if not self.discover:
            return {}
        if self._entry_points is None:
            found: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] = {}
            problems: list[DistributionProblem] = []
            for dist in _scan_distributions():
                # A problem of no particular group concerns the groups the distribution declares (all of them
                # when it declares none that could be read); Registry.problems() removes the repeats.
                mine = self.spec.entry_point_group in dist.groups or not dist.groups
                problems += [p for p in dist.problems if p.group == self.spec.entry_point_group
                             or (p.group is None and mine)]
                for group, name, value in dist.entries:
                    if group != self.spec.entry_point_group:
                        continue
                    info = PluginInfo(name, self.spec.key, value, dist.name, dist.version)
                    found.setdefault(name, []).append((info, metadata.EntryPoint(name=name, value=value, group=group)))
            self._entry_points = found
            self._problems = problems
        return self._entry_points

    def problems(self) -> list[DistributionProblem]:
        """Installed metadata of this group that could not be used as is (read without importing plugin code):
        a distribution without a ``Name``, a malformed line of an ``entry_points.txt``, an unreadable file."""
        self._installed()
        return list(self._problems) if self.discover else []

    def shadowed(self) -> list[tuple[PluginInfo, list[PluginInfo]]]:
        """Built-in plugins whose name another distribution also provides: ``[(builtin, [shadowing, ...])]``.

        The built-in wins whenever no provider is given (so runs recorded with a built-in name keep meaning the
        built-in); the others are reachable with ``provider=``.
        """
        out = []
        for pairs in self._installed().values():
            builtin = [info for info, _ in pairs if _is_builtin(info.distribution)]
            others = [info for info, _ in pairs if not _is_builtin(info.distribution)]
            if builtin and others:
                out.append((builtin[0], others))
        return sorted(out, key=lambda item: item[0].name)

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
        if len(candidates) > 1 and provider is None:
            builtin = [c for c in candidates if _is_builtin(c[0].distribution)]
            if len(builtin) == 1:
                # A third-party plugin shadows a built-in name: the built-in wins, so configs and runs recorded
                # with that name keep meaning what they meant; the other is reachable with provider=.
                if name not in self._warned_shadow:
                    self._warned_shadow.add(name)
                    others = "; ".join(info.provenance for info, _ in candidates if info is not builtin[0][0])
                    warnings.warn(
                        f"The {self.spec.kind} name {name!r} is built into vaetk and also provided by {others}; "
                        f"using the built-in. To use the other, pick it with `provider = \"<distribution>\"` in "
                        f"the config (or provider= in Python); `vaetk plugins list` flags every such name.",
                        VaetkWarning,
                        stacklevel=4,
                    )
                return builtin[0]
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
        problems = self.problems()
        note = (
            f" Note: {len(problems)} problem(s) in installed plugin metadata may hide plugins of this group "
            f"(first: {problems[0]}); `vaetk plugins list` lists them all." if problems else ""
        )
        return (
            f"Unknown {self.spec.kind} {name!r}.{hint} {self._available()} Plugins come from the "
            f"{self.spec.entry_point_group!r} entry-point group; see `vaetk plugins list --group {self.spec.key}`."
            + note
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
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: B036 - SystemExit & co. at import must not end the caller
                cause = (f"it called sys.exit({exc.code!r}) while being imported" if isinstance(exc, SystemExit)
                         else f"{type(exc).__name__}: {exc}")
                raise PluginLoadError(
                    f"{self.spec.kind.capitalize()} {info.name!r} ({info.provenance}) failed to import: "
                    f"{cause}. Run `vaetk plugins check {info.name}` for details, "
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

    def problems(self, groups: Iterable[PluginGroup] | None = None) -> list[DistributionProblem]:
        """Problems in installed plugin metadata, across ``groups`` (default: every group), without duplicates
        (see PluginGroup.problems)."""
        out: list[DistributionProblem] = []
        for group in self._groups.values() if groups is None else groups:
            out += [p for p in group.problems() if p not in out]
        return out

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
