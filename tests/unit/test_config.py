"""Strict TOML configuration: unknown keys, types, nested tables, messages with the key's path."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from vaetk.config import check_param, config_to_dict, dump_toml, load_toml, parse_config
from vaetk.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class Inner:
    levels: int = 2
    sizes: tuple[int, ...] = (16, 16)

    def __post_init__(self) -> None:
        check_param(self.levels >= 1, "levels", "an int in the range [1, inf)", self.levels, "prior 'toy'")


@dataclass(frozen=True, kw_only=True)
class Outer:
    name: str
    rate: float = 1.0
    mode: Literal["fast", "exact"] = "fast"
    seed: int | None = None
    flag: bool = False
    inner: Inner = field(default_factory=Inner)
    extra: dict[str, float] = field(default_factory=dict)


def test_defaults_and_conversion() -> None:
    cfg = parse_config(Outer, {"name": "x", "rate": 2, "inner": {"sizes": [1, 2, 3]}}, path="model")
    assert cfg.rate == 2.0 and isinstance(cfg.rate, float)
    assert cfg.inner == Inner(sizes=(1, 2, 3))
    assert cfg.seed is None


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "x", "rtae": 1.0}, r"model\.rtae: unknown key; did you mean 'rate'\? Valid keys: name, rate"),
    ({"name": "x", "inner": {"levles": 2}}, r"model\.inner\.levles: unknown key; did you mean 'levels'\?"),
    ({"name": "x", "rate": "fast"}, r"model\.rate: expected a number, got 'fast' \(str\)"),
    ({"name": "x", "flag": 1}, r"model\.flag: expected true or false, got 1 \(int\)"),
    ({"name": "x", "seed": 1.5}, r"model\.seed: expected an integer, got 1\.5"),
    ({"name": "x", "mode": "exakt"},
     r"model\.mode: expected one of 'fast', 'exact', got 'exakt'\. Did you mean 'exact'\?"),
    ({"name": "x", "inner": {"sizes": [1, "a"]}}, r"model\.inner\.sizes\[1\]: expected an integer"),
    ({"name": "x", "inner": {"levels": 0}},
     r"model\.inner: The 'levels' parameter of prior 'toy' must be an int in the range \[1, inf\)\. Got 0 instead\."),
    ({"rate": 1.0}, r"model\.name: required key is missing"),
    ({"name": "x", "rate": float("nan")}, r"model\.rate: expected a finite number"),
    ({"name": "x", "extra": {"a": "b"}}, r"model\.extra\.a: expected a number"),
])
def test_errors_name_the_path_and_the_fix(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(Outer, data, path="model")


def test_round_trip_through_toml(tmp_path: Path) -> None:
    cfg = parse_config(Outer, {"name": "x", "seed": 3, "extra": {"a": 1.5}}, path="m")
    text = dump_toml({"model": config_to_dict(cfg), "runs": [{"a": 1}, {"a": 2}]})
    path = tmp_path / "c.toml"
    path.write_text(text)
    data = load_toml(path)
    assert parse_config(Outer, data["model"], path="m") == cfg
    assert data["runs"] == [{"a": 1}, {"a": 2}]
    assert tomllib.loads(dump_toml({"s": 'quote " and \\ back'}))["s"] == 'quote " and \\ back'


def test_load_toml_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("a = [1,\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_toml(bad)
