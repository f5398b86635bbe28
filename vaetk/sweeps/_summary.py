"""Summarise a sweep: per setting, S_D and S_KL (median and range), disentanglement and over-regularisation
rates and losses; plus the paper's Fig. 14-style figure (S_D against a swept value, median with min-max range).

What a trial reports
    Summaries read the results a trial returned (``trial.json``). The keys used are ``sd`` (S_D, eq. 6),
    ``skl`` (S_KL, eq. 7), ``over_regularized`` (bool, the Theorem 1 detector) and the losses ``loss_per_pixel``,
    ``rec_per_pixel``, ``reg_per_pixel`` and ``loss_elbo``; missing keys are shown as blanks.

Disentangled
    A trial counts as disentangled when ``sd >= threshold`` (default 0.8). For two latent dimensions and two
    independent factors, a latent space rotated by omega from the factor axes has S_D = max(|cos|, |sin|) /
    (|cos| + |sin|): 1 when aligned, 0.5 at 45 degrees, and 0.8 at about 14 degrees, so the default accepts
    rotations within about 14 degrees of alignment and rejects the 45-degree solutions the paper describes.
    Over-regularised trials are never counted as disentangled.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaetk.errors import ConfigError, DataError
from vaetk.sweeps._grid import setting_label
from vaetk.sweeps._runner import TrialOutcome, load_outcomes

__all__ = ["DEFAULT_THRESHOLD", "SettingSummary", "plot_sd_against", "summarize_outcomes", "summarize_sweep"]

DEFAULT_THRESHOLD = 0.8
LOSS_KEYS = ("loss_per_pixel", "rec_per_pixel", "reg_per_pixel", "loss_elbo")


@dataclass(frozen=True)
class Stat:
    """Median and range of one quantity over the trials of a setting that reported it."""

    n: int
    median: float
    min: float
    max: float


@dataclass(frozen=True)
class SettingSummary:
    """The summary of one grid point."""

    label: str
    setting: dict[str, Any]
    n_trials: int
    n_failed: int
    sd: Stat | None
    skl: Stat | None
    disentangled_rate: float | None  # over finished trials that reported sd
    over_regularized_rate: float | None  # over finished trials that reported the flag
    losses: dict[str, Stat]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):  # non-finite numbers are stored as their repr
        try:
            value = float(value)
        except ValueError:
            return None
    return float(value) if isinstance(value, int | float) else None


def _stat(values: Sequence[float | None]) -> Stat | None:
    vals = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if vals.size == 0:
        return None
    return Stat(int(vals.size), float(np.median(vals)), float(vals.min()), float(vals.max()))


def summarize_outcomes(outcomes: Sequence[TrialOutcome], *, threshold: float = DEFAULT_THRESHOLD
                       ) -> list[SettingSummary]:
    """Group outcomes by setting (first-seen order) and summarise each group; see the module docstring."""
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"threshold {threshold!r}: S_D lies in (0, 1], so the threshold must too.")
    groups: dict[str, list[TrialOutcome]] = {}
    for o in outcomes:
        groups.setdefault(setting_label(o.setting), []).append(o)
    summaries = []
    for label, group in groups.items():
        ok = [o for o in group if o.ok]
        sd = [_number(o.result.get("sd")) for o in ok]
        over = [o.result.get("over_regularized") for o in ok]
        flagged = [bool(f) for f in over if isinstance(f, bool)]
        rated = [(s, f) for s, f in zip(sd, over, strict=True) if s is not None]
        disentangled = (sum(s >= threshold and f is not True for s, f in rated) / len(rated)) if rated else None
        losses = {k: st for k in LOSS_KEYS if (st := _stat([_number(o.result.get(k)) for o in ok])) is not None}
        summaries.append(SettingSummary(
            label=label, setting=dict(group[0].setting), n_trials=len(group), n_failed=len(group) - len(ok),
            sd=_stat(sd), skl=_stat([_number(o.result.get("skl")) for o in ok]),
            disentangled_rate=disentangled,
            over_regularized_rate=(sum(flagged) / len(flagged)) if flagged else None, losses=losses,
        ))
    return summaries


def _fmt(st: Stat | None) -> str:
    return "" if st is None else f"{st.median:.4g} [{st.min:.4g}, {st.max:.4g}]"


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{100 * rate:.0f}%"


def format_table(summaries: Sequence[SettingSummary], *, threshold: float = DEFAULT_THRESHOLD) -> str:
    """A Markdown table, one row per setting; values are ``median [min, max]``."""
    loss_keys = [k for k in LOSS_KEYS if any(k in s.losses for s in summaries)]
    head = ["setting", "trials", "failed", "S_D", "S_KL", f"disentangled (S_D>={threshold:g})",
            "over-regularised", *loss_keys]
    rows = [head, ["---"] * len(head)]
    for s in summaries:
        rows.append([s.label, str(s.n_trials), str(s.n_failed), _fmt(s.sd), _fmt(s.skl),
                     _pct(s.disentangled_rate), _pct(s.over_regularized_rate),
                     *[_fmt(s.losses.get(k)) for k in loss_keys]])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n"


def _csv(summaries: Sequence[SettingSummary]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    cols = ["sd", "skl", *LOSS_KEYS]
    writer.writerow(["setting", "n_trials", "n_failed", "disentangled_rate", "over_regularized_rate",
                     *[f"{c}_{p}" for c in cols for p in ("median", "min", "max")]])
    for s in summaries:
        stats = [s.sd, s.skl, *[s.losses.get(k) for k in LOSS_KEYS]]
        writer.writerow([s.label, s.n_trials, s.n_failed, s.disentangled_rate, s.over_regularized_rate,
                         *[getattr(st, p) if st else "" for st in stats for p in ("median", "min", "max")]])
    return buf.getvalue()


def plot_sd_against(summaries: Sequence[SettingSummary], key: str, *, divisor: float = 1.0,
                    xlabel: str | None = None, log_x: bool | None = None) -> Any:
    """Fig. 14 style: median S_D against the swept value ``key`` (divided by ``divisor``), min-max as a band.

    Settings that differ in other swept keys are drawn as separate lines. ``log_x`` (default: when every value is
    positive and they span a factor of 10 or more, as label counts do) puts the x-axis on a log scale. Returns the
    matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with_key = [s for s in summaries if key in s.setting and s.sd is not None]
    if not with_key:
        swept = sorted({k for s in summaries for k in s.setting})
        raise ConfigError(f"cannot plot S_D against {key!r}: no setting with S_D has it (swept: {swept}).")
    lines: dict[str, list[SettingSummary]] = {}
    for s in with_key:
        rest = setting_label({k: v for k, v in s.setting.items() if k != key})
        lines.setdefault(rest, []).append(s)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for rest, group in lines.items():
        group = sorted(group, key=lambda s: float(s.setting[key]))
        x = np.array([float(s.setting[key]) / divisor for s in group])
        med = np.array([s.sd.median for s in group])
        lo, hi = np.array([s.sd.min for s in group]), np.array([s.sd.max for s in group])
        line, = ax.plot(x, med, "o-", label=None if rest == "base" else rest)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.25, linewidth=0)
        ax.errorbar(x, med, yerr=[med - lo, hi - med], fmt="none", ecolor=line.get_color(), capsize=3)
    values = [float(s.setting[key]) for group in lines.values() for s in group]
    if log_x is None:
        log_x = min(values) > 0 and max(values) >= 10 * min(values)
    if log_x:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labelled minor ticks overlap over a short range
    ax.set_xlabel(xlabel or (key if divisor == 1.0 else f"{key} / {divisor:g}"))
    ax.set_ylabel("S_D (median, min-max)")
    ax.set_ylim(0.45, 1.02)
    if len(lines) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def summarize_sweep(sweep_dir: str | os.PathLike[str], *, threshold: float = DEFAULT_THRESHOLD,
                    plot_key: str | None = None, divisor: float = 1.0, write: bool = True,
                    ) -> list[SettingSummary]:
    """Summarise the sweep in ``sweep_dir``; with ``write``, save ``summary.{md,csv,json}`` and the figure.

    Parameters
    ----------
    plot_key : str, optional
        Swept key for the S_D figure (``summary_sd.png``); default: the only numeric swept key, if there is one.
    divisor : float
        Divide the plotted key by this (e.g. 512 to turn a number of labels into a labelled fraction).
    """
    outcomes = load_outcomes(sweep_dir)
    if not outcomes:
        raise DataError(f"{sweep_dir}: no trial has finished yet (no trials/*/trial.json).")
    summaries = summarize_outcomes(outcomes, threshold=threshold)
    if write:
        root = Path(sweep_dir)
        (root / "summary.md").write_text(format_table(summaries, threshold=threshold))
        (root / "summary.csv").write_text(_csv(summaries))
        data = {"threshold": threshold, "settings": [asdict(s) for s in summaries]}
        (root / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
        (root / "summary_sd.png").unlink(missing_ok=True)
        if plot_key is None:
            numeric = {k for s in summaries for k, v in s.setting.items()
                       if isinstance(v, int | float) and not isinstance(v, bool)}
            plot_key = next(iter(numeric)) if len(numeric) == 1 else None
        if plot_key is not None and any(s.sd for s in summaries):
            import matplotlib.pyplot as plt

            fig = plot_sd_against(summaries, plot_key, divisor=divisor)
            fig.savefig(root / "summary_sd.png", dpi=120)
            plt.close(fig)
    return summaries
