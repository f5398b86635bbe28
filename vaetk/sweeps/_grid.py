"""Sweep grids: ``--set key=value`` overrides, list values as grid axes, and the trials they expand to.

A sweep is the product of a grid of settings (every combination of the list-valued overrides) and a list of
seeds. Each trial is named from its setting and seed only, so the same command always yields the same trial
directories, and re-running it finds the trials that already finished.
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaetk._validation import is_int
from vaetk.errors import ConfigError

__all__ = ["Trial", "apply_overrides", "expand_trials", "parse_set_options", "setting_label"]


@dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes
    ----------
    trial_id : str
        Directory name below ``SWEEP_DIR/trials`` (``"<setting>__seed-<k>"``), stable across re-runs.
    setting : dict
        The grid point: dotted key -> scalar value (empty when the sweep has no grid).
    seed : int
        The trial's seed, written into the experiment at ``seed_key``.
    config : dict
        The complete experiment (base experiment + fixed overrides + setting + seed).
    """

    trial_id: str
    setting: dict[str, Any]
    seed: int
    config: dict[str, Any] = field(repr=False)


def _parse_value(text: str, where: str) -> Any:
    """A TOML value (``1e-3``, ``[1, 8, 32]``, ``true``, ``"name"``); bare words and paths are taken as
    strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[\w.~/+\-]+", text):
            return text
        raise ConfigError(
            f"{where}: cannot read {text!r} as a TOML value; write numbers as 1e-3, lists as [1, 8, 32], "
            f"strings as plain words or paths, or in double quotes."
        ) from None


def parse_set_options(options: Sequence[str]) -> dict[str, Any]:
    """Parse ``["a.b=1", "c=[1, 2]"]`` into ``{"a.b": 1, "c": [1, 2]}``.

    Raises
    ------
    ConfigError
        If an option has no ``=``, an empty key, or a key given twice.
    """
    out: dict[str, Any] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip()
        where = f"--set {option!r}"
        if not sep or not key or not re.fullmatch(r"[\w\-]+(\.[\w\-]+)*", key):
            raise ConfigError(f"{where}: expected KEY=VALUE with a dotted key such as prior.name=gaussian.")
        if key in out:
            raise ConfigError(f"{where}: the key {key!r} is set twice; give a list to sweep over values.")
        out[key] = _parse_value(text.strip(), where)
    return out


def apply_overrides(experiment: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``experiment`` with each dotted key set (intermediate tables are created).

    Raises
    ------
    ConfigError
        If a dotted key goes through a value that is not a table (``lr.x`` where ``lr = 1e-3``).
    """
    result = copy.deepcopy(dict(experiment))
    for key, value in overrides.items():
        parts = key.split(".")
        table = result
        for depth, part in enumerate(parts[:-1]):
            nxt = table.setdefault(part, {})
            if not isinstance(nxt, dict):
                prefix = ".".join(parts[: depth + 1])
                raise ConfigError(
                    f"--set {key}: {prefix!r} is a value ({nxt!r}), not a table, so {key!r} cannot be set."
                )
            table = nxt
        table[parts[-1]] = copy.deepcopy(value)
    return result


def _slug(value: Any) -> str:
    text = format(value, "g") if isinstance(value, float) else str(value).lower() if isinstance(value, bool) \
        else str(value)
    return re.sub(r"[^\w.+\-]+", "_", text)


def setting_label(setting: Mapping[str, Any]) -> str:
    """A filesystem-safe name of a grid point: ``"beta-0.1_n_labels-8"`` (``"base"`` for no grid)."""
    if not setting:
        return "base"
    return "_".join(f"{key.split('.')[-1]}-{_slug(value)}" for key, value in setting.items())


def expand_trials(
    experiment: Mapping[str, Any],
    *,
    seeds: Sequence[int],
    overrides: Mapping[str, Any] | None = None,
    seed_key: str | Sequence[str] = "training.seed",
) -> list[Trial]:
    """Expand an experiment, overrides and seeds into the sweep's trials.

    Parameters
    ----------
    experiment : mapping
        The base experiment (a TOML document as nested dicts).
    seeds : sequence of int
        One trial per seed and grid point. Distinct, non-negative.
    overrides : mapping, optional
        Dotted key -> value. A list value is a grid axis (its elements are swept; to set a list-valued option
        to one list, wrap it: ``[[1.0, 2.0]]``); scalars are fixed for every trial.
    seed_key : str or sequence of str
        Dotted key(s) set to the trial's seed (vaetk experiments: ``training.seed``; add
        ``semi_supervised.label_seed`` so that each trial also draws its own labelled samples).

    Returns
    -------
    list of Trial
        Ordered setting-major, then by seed; ids unique.
    """
    seeds = list(seeds)
    if not seeds:
        raise ConfigError("A sweep needs at least one seed (--seeds N with N >= 1).")
    if any(not is_int(s, 0) for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"Sweep seeds must be distinct non-negative integers, got {seeds}.")
    overrides = dict(overrides or {})
    seed_keys = [seed_key] if isinstance(seed_key, str) else list(seed_key)
    if not seed_keys:
        raise ConfigError("A sweep needs at least one seed key (the dotted key of the experiment's seed).")
    for key in seed_keys:
        if key in overrides:
            raise ConfigError(f"--set {key}=...: the seed is set per trial by the sweep; use --seeds instead.")
    fixed = {k: v for k, v in overrides.items() if not isinstance(v, list)}
    axes = {k: v for k, v in overrides.items() if isinstance(v, list)}
    for key, values in axes.items():
        if not values:
            raise ConfigError(f"--set {key}=[]: a grid axis needs at least one value.")
    base = apply_overrides(experiment, fixed)
    trials: list[Trial] = []
    for combo in itertools.product(*axes.values()):
        setting = dict(zip(axes, combo, strict=True))
        label = setting_label(setting)
        for seed in seeds:
            config = apply_overrides(base, {**setting, **dict.fromkeys(seed_keys, seed)})
            trials.append(Trial(f"{label}__seed-{seed}", setting, seed, config))
    ids = [t.trial_id for t in trials]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"Grid values give identical trial names {dup}; make the swept values distinct.")
    return trials
