"""Contract checks for metrics plugins (see :mod:`vaetk.testing`).

Every metric must: follow the plugin idiom (:mod:`vaetk.testing._idiom`; metrics take no construction context,
and two metrics are equal when they give the same scores for the same data and seed); name its primary score;
return a dict of finite floats with its ``primary`` score first on
a disentangled and on an entangled code; give identical results for identical seeds; be unchanged (to rounding)
when the latents are translated; reject NaN, mismatched sample counts and 1-D arrays with a DataError; and have
a Config that round-trips through TOML.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib

import numpy as np

from vaetk.testing import Check
from vaetk.testing._idiom import idiom_checks

CHECKS: list[Check] = []


def _check(func):  # type: ignore[no-untyped-def]
    CHECKS.append(Check(func.__name__, func))
    return func


def _data(n: int = 256, entangled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    theta = rng.standard_normal((n, 2))
    if entangled:
        c = math.sqrt(0.5)
        z = theta @ np.array([[c, -c], [c, c]])
    else:
        z = theta[:, ::-1] * np.array([2.0, 0.5]) + np.array([1.0, -3.0])
    return z + 0.01 * rng.standard_normal(z.shape), theta


def _metric(plugin: type):  # type: ignore[no-untyped-def]
    return plugin(plugin.example_config())


def _build(plugin: type, config: object):  # type: ignore[no-untyped-def]
    return plugin(config)


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    z, theta = _data(entangled=True)
    first, second = a(z, theta, np.random.default_rng(5)), b(z, theta, np.random.default_rng(5))
    assert first == second, f"same data and seed, different scores: {first} vs {second}"


CHECKS.extend(idiom_checks(_build, _assert_same))


@_check
def names_its_primary_score(plugin: type) -> None:
    assert isinstance(plugin.primary, str) and plugin.primary, "the metric must name its primary score"


@_check
def config_round_trips_through_toml(plugin: type) -> None:
    from vaetk.config import dump_toml, parse_config

    cfg = plugin.example_config()
    text = dump_toml(dataclasses.asdict(cfg))
    again = parse_config(plugin.Config, tomllib.loads(text), path="metric")
    assert again == cfg, f"Config did not round-trip through TOML: {cfg} -> {again}"


@_check
def returns_finite_floats_primary_first(plugin: type) -> None:
    metric = _metric(plugin)
    for entangled in (False, True):
        z, theta = _data(entangled=entangled)
        scores = metric(z, theta, np.random.default_rng(0))
        assert isinstance(scores, dict) and scores, "a metric returns a non-empty dict"
        assert next(iter(scores)) == plugin.primary, f"first key must be {plugin.primary!r}, got {list(scores)}"
        for key, value in scores.items():
            assert isinstance(key, str) and isinstance(value, float) and math.isfinite(value), (key, value)


@_check
def seeded_runs_are_identical(plugin: type) -> None:
    z, theta = _data(entangled=True)
    first = _metric(plugin)(z, theta, np.random.default_rng(7))
    second = _metric(plugin)(z, theta, np.random.default_rng(7))
    assert first == second, f"same seed, different scores: {first} vs {second}"


@_check
def invariant_to_translating_latents(plugin: type) -> None:
    z, theta = _data()
    base = _metric(plugin)(z, theta, np.random.default_rng(3))
    moved = _metric(plugin)(z + np.array([5.0, -2.0]), theta, np.random.default_rng(3))
    value, other = base[plugin.primary], moved[plugin.primary]
    assert abs(value - other) <= 1e-6 * (1.0 + abs(value)), f"translation changed the score: {value} -> {other}"


@_check
def rejects_bad_input(plugin: type) -> None:
    from vaetk.errors import DataError

    metric = _metric(plugin)
    z, theta = _data()
    bad = z.copy()
    bad[3, 1] = np.nan
    cases = {"NaN latents": (bad, theta), "row mismatch": (z[:-1], theta), "1-D factors": (z, theta[:, 0])}
    for what, (a, b) in cases.items():
        try:
            metric(a, b, np.random.default_rng(0))
        except DataError:
            continue
        raise AssertionError(f"{what}: expected DataError")
