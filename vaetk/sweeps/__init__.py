"""Multi-seed sweeps: run many trials of an experiment locally or on Dask, and summarise them.

>>> from vaetk.sweeps import parse_set_options
>>> parse_set_options(["loss.beta=[0.1, 1.0]", "prior.name=hierarchical"])
{'loss.beta': [0.1, 1.0], 'prior.name': 'hierarchical'}
"""

from __future__ import annotations

from vaetk.sweeps._compare import Comparison, clopper_pearson, compare_arms, format_comparison, plot_arms
from vaetk.sweeps._grid import Trial, apply_overrides, expand_trials, parse_set_options, setting_label
from vaetk.sweeps._runner import DEFAULT_TRIAL, SweepResult, TrialOutcome, load_outcomes, run_sweep
from vaetk.sweeps._summary import (
    DEFAULT_THRESHOLD,
    SettingSummary,
    format_table,
    plot_sd_against,
    summarize_outcomes,
    summarize_sweep,
)

__all__ = [
    "Comparison",
    "DEFAULT_THRESHOLD",
    "DEFAULT_TRIAL",
    "SettingSummary",
    "SweepResult",
    "Trial",
    "TrialOutcome",
    "apply_overrides",
    "clopper_pearson",
    "compare_arms",
    "expand_trials",
    "format_comparison",
    "format_table",
    "load_outcomes",
    "parse_set_options",
    "plot_arms",
    "plot_sd_against",
    "run_sweep",
    "setting_label",
    "summarize_outcomes",
    "summarize_sweep",
]
