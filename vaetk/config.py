"""Strict configuration: TOML on disk, frozen dataclasses in memory.

:func:`parse_config` turns a mapping (a TOML table) into a dataclass instance and rejects anything it does not
understand, naming the key's full path: unknown keys (with a close-match suggestion), wrong types, and values
its ``__post_init__`` refuses. :func:`resolve_component` does the same for a component table
(``name = "...", provider = "...", <fields of that plugin's Config>``), resolving the name through the registry.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True, kw_only=True)
... class Grid:
...     n: int = 65
...     length_scale: float = 0.1
>>> parse_config(Grid, {"n": 129}, path="grid")
Grid(n=129, length_scale=0.1)
>>> parse_config(Grid, {"lenght_scale": 0.2}, path="grid")
Traceback (most recent call last):
...
vaetk.errors.ConfigError: grid.lenght_scale: unknown key; did you mean 'length_scale'? Valid keys: n, length_scale.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from vaetk._validation import did_you_mean, is_int
from vaetk.errors import ConfigError, PluginError

__all__ = [
    "check_param",
    "config_to_dict",
    "dump_toml",
    "load_toml",
    "parse_config",
    "resolve_component",
]

def check_param(ok: bool, name: str, expected: str, value: Any, owner: str) -> None:
    """Raise ConfigError in the house wording unless ``ok``.

    Examples
    --------
    >>> check_param(True, "levels", "an int in the range [1, inf)", 2, "prior 'hierarchical'")
    >>> check_param(False, "levels", "an int in the range [1, inf)", 0, "prior 'hierarchical'")
    Traceback (most recent call last):
    ...
    ConfigError: The 'levels' parameter of prior 'hierarchical' must be an int in the range [1, inf). Got 0 instead.
    """
    if not ok:
        raise ConfigError(f"The {name!r} parameter of {owner} must be {expected}. Got {value!r} instead.")


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, with errors that name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Configuration file {str(path)!r} does not exist.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read configuration file {str(path)!r}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


# -- packaged presets and the preset-or-file rule ------------------------------------------------------------
PRESET_PREFIX = "preset:"
_PRESET_KINDS = {"experiments": "experiment", "datasets": "dataset"}


def preset_names(kind: str) -> list[str]:
    """Names of the presets shipped in ``vaetk/configs/<kind>/`` (``kind``: "experiments" or "datasets")."""
    from importlib import resources

    folder = resources.files("vaetk") / "configs" / kind
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_table(kind: str, name: str, *, spec: str | None = None) -> dict[str, Any]:
    """The TOML table of a packaged preset, or a ConfigError with close matches and the available names
    (``spec``: how the user wrote it, for the hint about a same-named file in the working directory)."""
    from importlib import resources

    names = preset_names(kind)
    if name not in names:
        written = spec if spec is not None else name
        local = (f" To read the file {written!r} in this folder, write ./{written}."
                 if not written.startswith(PRESET_PREFIX) and Path(written).is_file() else "")
        raise ConfigError(f"{written!r} is not a{'n' if kind == 'experiments' else ''} {_PRESET_KINDS[kind]} preset."
                          f"{did_you_mean(name, names, n=2)}{local} Presets: {', '.join(names) or 'none'}.")
    return tomllib.loads((resources.files("vaetk") / "configs" / kind / f"{name}.toml").read_text(encoding="utf-8"))


def preset_or_file(spec: str | Path, kind: str) -> tuple[dict[str, Any], Path | None]:
    """The table named by ``spec`` and the file it came from (None for a preset).

    The rule is unambiguous: ``preset:NAME`` or a bare ``NAME`` (no suffix, no folder) is always a packaged preset,
    whatever files exist in the working directory; anything with a suffix or a folder (``exp.toml``, ``./exp``,
    ``configs/exp``) is a file.
    """
    text = str(spec)
    path = Path(text)
    if text.startswith(PRESET_PREFIX) or (path.suffix == "" and len(path.parts) == 1 and "/" not in text):
        return preset_table(kind, text.removeprefix(PRESET_PREFIX), spec=text), None
    if path.is_dir():
        example = "demo" if kind == "experiments" else "kle2_standard_normal"
        raise ConfigError(f"{text!r} is a folder, not a{'n' if kind == 'experiments' else ''} "
                          f"{_PRESET_KINDS[kind]} file (a preset is named without a suffix or folder, e.g. "
                          f"{example!r} or 'preset:{example}').")
    return load_toml(path), path


# -- type checking --------------------------------------------------------------------------------------------
def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is float:
        return "a number"
    if tp is int:
        return "an integer"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp) if a is not type(None)) + " (or omitted)"
    if origin in (tuple, list):
        args = get_args(tp)
        inner = _describe(args[0]) if args else "values"
        return f"a list of {inner.removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin in (dict, Mapping) or tp is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Check ``value`` against annotation ``tp``; return it converted (lists to tuples, tables to dataclasses)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, path)
            except ConfigError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}.")
    if origin is Literal:
        if value in get_args(tp) and not isinstance(value, bool):
            return value
        hint = did_you_mean(value, [str(a) for a in get_args(tp)])
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}.{hint}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a table, got {value!r}.")
        return parse_config(tp, value, path=path)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r}.")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{path}: expected a list of {len(args)} values, got {len(value)}: {value!r}.")
            items = [_convert(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))]
        else:
            item_tp = args[0] if args else Any
            items = [_convert(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}: expected a table, got {value!r}.")
        args = get_args(tp)
        val_tp = args[1] if len(args) == 2 else Any
        return {k: _convert(val_tp, v, f"{path}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {value!r} ({type(value).__name__}).")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: expected a finite number, got {value!r}.")
        return float(value)
    if tp is int:
        if not is_int(value):
            raise ConfigError(f"{path}: expected an integer, got {value!r} ({type(value).__name__}).")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {value!r} ({type(value).__name__}).")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r} ({type(value).__name__}).")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {value!r} ({type(value).__name__}).")
    return value


def parse_config(cls: type[Any], data: Mapping[str, Any] | None, *, path: str) -> Any:
    """Build the dataclass ``cls`` from ``data``, strictly.

    Parameters
    ----------
    cls : dataclass type
        Frozen dataclass whose fields are annotated with the types the values must have.
    data : mapping or None
        The table from TOML (None means all defaults).
    path : str
        Where this table lives in the configuration (``"prior"``, ``"data.kle"``), used in every message.

    Raises
    ------
    ConfigError
        Unknown key (with a suggestion), missing required key, wrong type, or a value rejected by the class.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"parse_config needs a dataclass type, got {cls!r}")
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a table, got {data!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    for key in data:
        if key not in fields:
            hint = did_you_mean(key, fields, lead="did you mean")
            raise ConfigError(
                f"{path}.{key}: unknown key;{hint} Valid keys: {', '.join(fields) or '(none)'}."
            )
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(hints.get(name, Any), data[name], f"{path}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}: required key is missing ({_describe(hints.get(name, Any))}).")
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain TOML-ready data (tuples become lists, nested dataclasses tables)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return value

    return plain(config)


def resolve_component(group: str, table: Mapping[str, Any], *, path: str) -> tuple[type[Any], Any]:
    """Resolve a component table ``{name, provider?, **params}`` to ``(plugin_class, config)``.

    Unknown or broken plugins and bad parameters raise errors that name ``path``.
    """
    from vaetk.registry import registry

    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: expected a table with a 'name' key, got {table!r}.")
    params = dict(table)
    name = params.pop("name", None)
    provider = params.pop("provider", None)
    if not isinstance(name, str):
        raise ConfigError(f"{path}.name: required key is missing or not a string (got {name!r}).")
    if provider is not None and not isinstance(provider, str):
        raise ConfigError(f"{path}.provider: expected a distribution name (string), got {provider!r}.")
    try:
        cls = registry.group(group).get(name, provider=provider)
    except PluginError as exc:
        raise type(exc)(f"{path}.name: {exc}") from exc
    return cls, parse_config(cls.Config, params, path=path)


# -- writing --------------------------------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        raise ConfigError("TOML has no null: leave the key out instead of writing None")
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def dump_toml(data: Mapping[str, Any]) -> str:
    """Serialise nested plain data (tables, arrays of tables, scalars, lists) to TOML text.

    Keys whose value is None are left out (TOML has no null).

    Examples
    --------
    >>> print(dump_toml({"seed": 1, "data": {"n": 65, "mean": [1.0, 1.0]}}), end="")
    seed = 1
    <BLANKLINE>
    [data]
    n = 65
    mean = [1.0, 1.0]
    """
    lines: list[str] = []

    def is_table_array(v: Any) -> bool:
        return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(i, Mapping) for i in v)

    def emit(table: Mapping[str, Any], prefix: str) -> None:
        scalars = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)
                   and not is_table_array(v)]
        for k, v in scalars:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in table.items():
            name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
            if isinstance(v, Mapping):
                lines.extend(["", f"[{name}]"])
                emit(v, name)
            elif is_table_array(v):
                for item in v:
                    lines.extend(["", f"[[{name}]]"])
                    emit(item, name)

    emit(data, "")
    return "\n".join(lines).lstrip("\n") + "\n"

