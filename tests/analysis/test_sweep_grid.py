"""Sweep grids: --set parsing, overrides, expansion into named trials."""

from __future__ import annotations

import pytest

from vaetk.errors import ConfigError
from vaetk.sweeps import apply_overrides, expand_trials, parse_set_options, setting_label


def test_parse_set_options_reads_toml_values_and_bare_words():
    got = parse_set_options(["loss.beta=[0.1, 1]", "prior.name=hierarchical", "lr=5e-4", "bn=true", 's="a b"'])
    assert got == {"loss.beta": [0.1, 1], "prior.name": "hierarchical", "lr": 5e-4, "bn": True, "s": "a b"}
    paths = parse_set_options(["data.path=/runs/data/mix-cpu.zarr", "a=mix33.zarr", "b=../x/y.h5", "c=~/d"])
    assert paths == {"data.path": "/runs/data/mix-cpu.zarr", "a": "mix33.zarr", "b": "../x/y.h5", "c": "~/d"}


@pytest.mark.parametrize("bad, fragment", [
    ("nokey", "KEY=VALUE"), ("=3", "KEY=VALUE"), ("a..b=1", "KEY=VALUE"), ("a=[1,", "cannot read"),
])
def test_parse_set_options_rejects_malformed(bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_set_options([bad])


def test_parse_set_options_rejects_repeated_key():
    with pytest.raises(ConfigError, match="set twice"):
        parse_set_options(["a=1", "a=2"])


def test_apply_overrides_is_deep_and_does_not_mutate():
    base = {"train": {"lr": 1e-3, "epochs": 10}, "seed": 0}
    out = apply_overrides(base, {"train.lr": 5e-4, "prior.name": "gaussian"})
    assert out == {"train": {"lr": 5e-4, "epochs": 10}, "seed": 0, "prior": {"name": "gaussian"}}
    assert base == {"train": {"lr": 1e-3, "epochs": 10}, "seed": 0}


def test_apply_overrides_refuses_to_descend_into_a_value():
    with pytest.raises(ConfigError, match="'train.lr' is a value"):
        apply_overrides({"train": {"lr": 1e-3}}, {"train.lr.x": 1})


def test_expand_trials_is_grid_times_seeds_with_stable_names():
    trials = expand_trials({"a": {"b": 0}}, seeds=[0, 1], overrides={"a.b": [1, 2], "c": 3, "d": [True]})
    assert [t.trial_id for t in trials] == [
        "b-1_d-true__seed-0", "b-1_d-true__seed-1", "b-2_d-true__seed-0", "b-2_d-true__seed-1"]
    assert trials[2].config == {"a": {"b": 2}, "c": 3, "d": True, "training": {"seed": 0}}
    assert trials[2].setting == {"a.b": 2, "d": True}
    assert setting_label({}) == "base"
    assert [t.trial_id for t in expand_trials({}, seeds=[4])] == ["base__seed-4"]


def test_expand_trials_nested_seed_key():
    (trial,) = expand_trials({"training": {"seed": 9, "lr": 1.0}}, seeds=[3])
    assert trial.config == {"training": {"seed": 3, "lr": 1.0}}
    (trial,) = expand_trials({}, seeds=[2], seed_key="seed")
    assert trial.config == {"seed": 2}
    (trial,) = expand_trials({}, seeds=[5], seed_key=["training.seed", "semi_supervised.label_seed"])
    assert trial.config == {"training": {"seed": 5}, "semi_supervised": {"label_seed": 5}}


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(seeds=[]), "at least one seed"),
    (dict(seeds=[1, 1]), "distinct"),
    (dict(seeds=[0], overrides={"training.seed": 3}), "set per trial"),
    (dict(seeds=[0], overrides={"x": []}), "at least one value"),
    (dict(seeds=[0], overrides={"x": ["a b", "a_b"]}), "identical trial names"),
])
def test_expand_trials_rejects(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        expand_trials({}, **kwargs)
