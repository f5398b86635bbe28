"""Contract checks of the one plugin idiom, common to every group (see :mod:`vaetk.plugin`).

Every group module of :mod:`vaetk.testing` starts its ``CHECKS`` with :func:`idiom_checks`, giving it how to
build one of its plugins (with the group's construction context and any seeding) and what makes two plugins
"equal" (same parameters and state for modules, same draws for distributions, same scores for metrics, same
pressures for solvers). The checks:

``config_idiom``
    ``Config`` is a dataclass nested in the plugin class (or in a plugin class it derives from, never in the
    group's base class or bound to a module-level alias), frozen, keyword-only, every field defaulted, and
    ``Config()`` and ``example_config()`` are instances of it.
``config_from_mapping``
    ``cls(config, **context)`` accepts a ``Config``, the same parameters as a mapping and None (``Config()``),
    and the mapping gives a plugin equal to the ``Config`` one; an unknown key is a ConfigError naming it (with
    a suggestion), and something that is neither is a ConfigError.
``config_validated_in_post_init``
    Values are checked in ``Config.__post_init__``: each numeric field (and each tuple of numbers) is probed
    with 0, -1 (and (), (0,), (-1,)); a probe ``Config`` refuses must be refused with a ConfigError, and a
    probe it accepts must then build, unless the plugin refuses it with a ConfigError that names a construction
    keyword (``latent_dim``, ``input_shape``): only checks that need the context belong in ``__init__``.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Iterator
from typing import Any, Union, get_args, get_origin, get_type_hints

from vaetk.config import config_to_dict
from vaetk.errors import ConfigError
from vaetk.registry import GROUPS, _load_base
from vaetk.testing import Check

__all__ = ["idiom_checks"]

Build = Callable[[type, Any], Any]
AssertSame = Callable[[Any, Any], None]


def idiom_checks(build: Build, assert_same: AssertSame, context: tuple[str, ...] = ()) -> list[Check]:
    """The three idiom checks for one group.

    Parameters
    ----------
    build : callable
        ``build(plugin, config)`` returns ``plugin(config, **context)`` for the group's context, seeding any
        randomness first so that two builds with equal parameters are equal.
    assert_same : callable
        ``assert_same(a, b)`` raises AssertionError unless two instances of one plugin behave the same.
    context : tuple of str
        The group's construction keywords (a ConfigError naming one of them may come from ``__init__``).
    """

    def from_mapping(plugin: type) -> None:
        check_config_from_mapping(plugin, build, assert_same)

    def validated_in_post_init(plugin: type) -> None:
        check_config_validated_in_post_init(plugin, build, context)

    return [
        Check("config_idiom", check_config_idiom),
        Check("config_from_mapping", from_mapping),
        Check("config_validated_in_post_init", validated_in_post_init),
    ]


def assert_same_state(a: Any, b: Any) -> None:
    """Two torch modules hold the same parameters and buffers, bit for bit."""
    import torch

    state_a = {**dict(a.named_parameters()), **dict(a.named_buffers())}
    state_b = {**dict(b.named_parameters()), **dict(b.named_buffers())}
    assert state_a.keys() == state_b.keys(), f"different state: {sorted(state_a)} vs {sorted(state_b)}"
    for name, t in state_a.items():
        assert torch.equal(t, state_b[name]), f"{name!r} differs"


def _base_classes(plugin: type) -> set[type]:
    """:class:`vaetk.plugin.Plugin` and the base class of the plugin's group (which hold no plugin's Config)."""
    from vaetk.plugin import Plugin

    spec = GROUPS.get(getattr(plugin, "plugin_group", ""))
    return {Plugin, *([_load_base(spec)] if spec else [])}


def check_config_idiom(plugin: type) -> None:
    """``Config`` is a nested, frozen, keyword-only dataclass whose fields all have defaults."""
    config_cls = plugin.Config
    assert isinstance(config_cls, type) and dataclasses.is_dataclass(config_cls), "Config must be a dataclass"
    owner = next((c for c in plugin.__mro__ if c.__dict__.get("Config") is config_cls), None)
    assert owner is not None and owner not in _base_classes(plugin), (
        f"{plugin.__name__} must define its own Config (inherited {config_cls.__qualname__} from a base class)")
    assert config_cls.__qualname__ == f"{owner.__qualname__}.Config", (
        f"Config must be nested in the plugin class (`class Config:` in the body of {owner.__qualname__}), not "
        f"bound to {config_cls.__qualname__} defined elsewhere")
    params = config_cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen, "Config must be a frozen dataclass (frozen=True)"
    fields = [f for f in dataclasses.fields(config_cls) if f.init]
    positional = [f.name for f in fields if not f.kw_only]
    assert not positional, f"Config fields must be keyword-only (kw_only=True); positional: {positional}"
    missing = [f.name for f in fields
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    assert not missing, f"Config fields without defaults: {missing}"
    for label, config in (("Config()", config_cls()), ("example_config()", plugin.example_config())):
        assert isinstance(config, config_cls), f"{label} must be a {config_cls.__qualname__}, got {config!r}"


def check_config_from_mapping(plugin: type, build: Build, assert_same: AssertSame) -> None:
    """A mapping of the parameters builds a plugin equal to the one built from the ``Config``."""
    config = plugin.example_config()
    table = config_to_dict(config)
    from_config, from_table = build(plugin, config), build(plugin, table)
    for label, instance in (("a Config", from_config), ("a mapping", from_table)):
        assert type(instance) is plugin, f"built from {label}, got a {type(instance).__name__}"
        assert isinstance(instance.config, plugin.Config), (
            f"built from {label}, .config is a {type(instance.config).__name__}, not the plugin's Config")
        assert instance.config == config, f"built from {label}, .config is {instance.config!r}, not {config!r}"
    assert_same(from_config, from_table)
    assert build(plugin, None).config == plugin.Config(), "built from None, .config must be Config()"

    names = [f.name for f in dataclasses.fields(plugin.Config) if f.init]
    bad_key = names[0] + names[0][-1] if names else "no_such_key"  # a typo: the last letter doubled
    if bad_key in names:
        names, bad_key = [], "no_such_key"
    try:
        build(plugin, {**table, bad_key: 1})
    except ConfigError as exc:
        assert bad_key in str(exc) and "unknown key" in str(exc), f"the error must name {bad_key!r}: {exc}"
        if names:
            assert f"did you mean {names[0]!r}" in str(exc), f"the error must suggest {names[0]!r}: {exc}"
    else:
        raise AssertionError(f"an unknown key {bad_key!r} in the mapping must raise ConfigError")
    try:
        build(plugin, 42)
    except ConfigError:
        pass
    else:
        raise AssertionError("a config that is neither a Config nor a mapping must raise ConfigError")


def _probes(tp: Any) -> Iterator[Any]:
    """Edge values of annotation ``tp``: 0 and -1 for numbers, (), (0,) and (-1,) for tuples of numbers."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is not type(None):
                yield from _probes(arg)
    elif tp in (int, float):
        yield from (tp(0), tp(-1))
    elif origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in (int, float):
            yield from ((), (args[0](0),), (args[0](-1),))


def check_config_validated_in_post_init(plugin: type, build: Build, context: tuple[str, ...]) -> None:
    """Edge values are refused by ``Config`` itself, or accepted by the plugin, or refused for a context reason."""
    base = plugin.example_config()
    hints = get_type_hints(plugin.Config)
    for field in dataclasses.fields(plugin.Config):
        if not field.init:
            continue
        for value in _probes(hints.get(field.name, Any)):
            probe = f"Config({field.name}={value!r})"
            try:
                config = dataclasses.replace(base, **{field.name: value})
            except ConfigError:
                continue  # refused where it should be
            except Exception as exc:  # noqa: BLE001 - the type is the point
                raise AssertionError(f"{probe}: Config.__post_init__ must raise vaetk.errors.ConfigError "
                                     f"(use check_param), not {type(exc).__name__}: {exc}") from exc
            try:
                build(plugin, config)
            except ConfigError as exc:
                if not any(word in str(exc) for word in context):
                    raise AssertionError(
                        f"{probe}: Config accepted it but building the plugin refused it ({exc}); check it in "
                        f"Config.__post_init__ (only checks that need {', '.join(context) or 'a context'} "
                        "belong in __init__)") from exc
            except Exception as exc:  # noqa: BLE001
                raise AssertionError(f"{probe}: Config accepted it but building the plugin raised "
                                     f"{type(exc).__name__}: {exc}; reject it in Config.__post_init__") from exc
