"""The one plugin idiom: every group is built as ``cls(config, **context)`` with a Config, a mapping or None
(normalised once, by ``vaetk.plugin.Plugin``), every base class is an ABC, and the idiom checks of
``vaetk.testing`` catch plugins that stray from it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from vaetk.errors import ConfigError
from vaetk.plugin import Architecture, Distribution, Metric, Plugin, Prior, Solver, check_param
from vaetk.registry import registry
from vaetk.testing import check_plugin

# (group, a built-in, its construction context)
BUILT_INS = [
    ("solvers", "native", {}),
    ("distributions", "uniform", {}),
    ("priors", "hierarchical", {"latent_dim": 2}),
    ("architectures", "small", {"input_shape": (1, 9, 9), "latent_dim": 2}),
    ("metrics", "tc", {}),
]


@pytest.mark.parametrize(("group", "name", "context"), BUILT_INS, ids=[b[0] for b in BUILT_INS])
def test_every_group_is_built_the_same_way(group: str, name: str, context: dict[str, Any]) -> None:
    cls = registry.group(group).get(name)
    config = cls.example_config()
    from_config = cls(config, **context)
    from_table = cls(dataclasses.asdict(config), **context)
    assert from_config.config == from_table.config == config and type(from_table.config) is cls.Config
    assert cls(None, **context).config == cls.Config()
    field = dataclasses.fields(cls.Config)[0].name
    with pytest.raises(ConfigError, match=rf"{field}x: unknown key; did you mean '{field}'\?"):
        cls({f"{field}x": 1}, **context)
    with pytest.raises(ConfigError, match=rf"{cls.owner()}: config must be a {cls.Config.__qualname__} instance"):
        cls(42, **context)


def test_make_config_path_and_owner() -> None:
    native = registry.solvers.get("native")
    assert native.owner() == "solver 'native'"
    assert registry.priors.get("gaussian").owner() == "prior 'gaussian'"
    with pytest.raises(ConfigError, match=r"^solvers\.native\.maxiterr: unknown key"):
        native.make_config({"maxiterr": 1}, path="solvers.native")
    config = native.Config(maxiter=3)
    assert native.make_config(config) is config


@pytest.mark.parametrize("base", [Solver, Distribution, Prior, Architecture, Metric])
def test_base_classes_are_abcs(base: type) -> None:
    assert issubclass(base, Plugin) and base.__abstractmethods__ >= set(base.required_methods)

    class Incomplete(base):  # type: ignore[misc, valid-type]
        @dataclass(frozen=True, kw_only=True)
        class Config:
            pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(None, **({"latent_dim": 2} if base is Prior else {}))


# -- plugins that stray from the idiom, one way each ---------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SharedConfig:
    power: float = 1.0


class _Score(Metric):
    primary = "score"

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        return {"score": float(self.config.power)}


class AliasedConfig(_Score):
    Config = SharedConfig


class MutableConfig(_Score):
    @dataclass(kw_only=True)
    class Config:
        power: float = 1.0


class PositionalConfig(_Score):
    @dataclass(frozen=True)
    class Config:
        power: float = 1.0


class CheckedInInit(_Score):
    @dataclass(frozen=True, kw_only=True)
    class Config:
        power: float = 1.0

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        check_param(self.config.power > 0, "power", "a number > 0", self.config.power, self.owner())


class ValueErrorInPostInit(_Score):
    @dataclass(frozen=True, kw_only=True)
    class Config:
        power: float = 1.0

        def __post_init__(self) -> None:
            if self.power <= 0:
                raise ValueError("power must be > 0")


class ReadsItsArgument(_Score):
    @dataclass(frozen=True, kw_only=True)
    class Config:
        power: float = 1.0

        def __post_init__(self) -> None:
            check_param(self.power > 0, "power", "a number > 0", self.power, "metric 'reads_its_argument'")

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.power = config.power  # breaks for a mapping: read self.config


class Idiomatic(_Score):
    @dataclass(frozen=True, kw_only=True)
    class Config:
        power: float = 1.0

        def __post_init__(self) -> None:
            check_param(self.power > 0, "power", "a number > 0", self.power, "metric 'idiomatic'")


@pytest.mark.parametrize(("plugin", "check", "words"), [
    (AliasedConfig, "config_idiom", "nested"),
    (MutableConfig, "config_idiom", "frozen"),
    (PositionalConfig, "config_idiom", "keyword-only"),
    (CheckedInInit, "config_validated_in_post_init", "check it in Config.__post_init__"),
    (ValueErrorInPostInit, "config_validated_in_post_init", "must raise vaetk.errors.ConfigError"),
    (ReadsItsArgument, "config_from_mapping", "AttributeError"),
])
def test_idiom_checks_catch_each_deviation(plugin: type, check: str, words: str) -> None:
    results = {r.check: r for r in check_plugin(plugin)}
    assert not results[check].passed and words in results[check].message, results[check]
    assert all(r.passed for name, r in results.items() if name.startswith("config_") and name != check), results


def test_idiomatic_plugin_passes_every_idiom_check() -> None:
    results = check_plugin(Idiomatic)
    idiom = [r for r in results if r.check in ("config_idiom", "config_from_mapping",
                                               "config_validated_in_post_init")]
    assert len(idiom) == 3 and all(r.passed for r in idiom), idiom


def test_context_dependent_checks_may_stay_in_init() -> None:
    # GaussianPrior checks len(mean) against latent_dim in __init__ (the message names latent_dim): allowed.
    results = {r.check: r for r in check_plugin(registry.priors.get("gaussian"))}
    assert results["config_validated_in_post_init"].passed
