"""Compare the arms of an experiment run on paired seeds: rates with exact intervals, paired tests, trajectories.

An *arm* is a sweep directory (one setting, seeds 0..N-1, as ``vaetk sweep`` and ``vaetk reproduce`` write them).
Arms are compared on the seeds they share, so a difference between arms is not a difference between seeds: the
same seed gives the same data order, initial weights (where the architectures agree) and noise in every arm.

Per arm: the disentangled rate (S_D >= threshold on the test encoder means, over-regularised trials excluded) and
the over-regularised rate, each with its exact (Clopper-Pearson) 95% interval; S_D and S_KL median and quartiles;
final L_REC and L_REG against the constant predictor; the S_D trajectory (epochs 0, 10, 50, final, where
logged), how many trials changed orientation after epoch 10 (|S_D final - S_D at 10| > ``moved``) and the
correlation of the early S_D with the final one (near 1: the orientation is fixed early); the medians
of the prior's named L_REG sub-terms. Per arm against a reference arm: the exact McNemar test on the paired
disentangled outcomes and the correlation of the paired final S_D (near 1: the seed, not the arm, decides).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaetk.errors import ConfigError, DataError
from vaetk.sweeps._runner import TrialOutcome, load_outcomes

__all__ = ["ArmSummary", "Comparison", "PairedTest", "clopper_pearson", "compare_arms", "format_comparison",
           "mcnemar_exact", "plot_arms"]

TRAJECTORY_EPOCHS = ("sd_epoch_0", "sd_epoch_10", "sd_epoch_50", "sd")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided confidence interval of a binomial rate k / n."""
    from scipy.stats import beta

    if not 0 <= k <= n or n < 1:
        raise ConfigError(f"clopper_pearson: need 0 <= k <= n and n >= 1, got k = {k}, n = {n}.")
    alpha = 1.0 - level
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pair counts (a binomial test of only_a vs only_b)."""
    from scipy.stats import binomtest

    n = only_a + only_b
    return 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)


@dataclass(frozen=True)
class ArmSummary:
    """One arm's results over its finished trials (see the module docstring)."""

    name: str
    n: int
    n_failed: int
    disentangled: int
    disentangled_ci: tuple[float, float]
    over_regularized: int
    over_regularized_ci: tuple[float, float]
    quartiles: dict[str, tuple[float, float, float]]  # key -> (q25, median, q75): sd, skl, rec, reg, constant rec
    trajectory: dict[str, float]  # median S_D at each logged epoch key of TRAJECTORY_EPOCHS
    moved: int  # trials whose S_D changed by more than the comparison's ``moved`` after epoch 10
    early_correlation: dict[str, float] = field(default_factory=dict)  # corr(S_D at epoch e, final S_D)
    reg_parts: dict[str, float] = field(default_factory=dict)  # median of each final reg_<part>_elbo


@dataclass(frozen=True)
class PairedTest:
    """An arm against the reference arm on their shared seeds."""

    arm: str
    reference: str
    n_pairs: int
    both: int
    only_arm: int
    only_reference: int
    p_value: float
    sd_correlation: float


@dataclass(frozen=True)
class Comparison:
    threshold: float
    moved: float
    arms: list[ArmSummary]
    paired: list[PairedTest]
    per_seed: dict[str, dict[int, dict[str, Any]]]  # arm -> seed -> trial results


def _finite(values: Sequence[Any]) -> np.ndarray:
    out = []
    for v in values:
        if isinstance(v, bool) or v is None:
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            out.append(x)
    return np.array(out, dtype=float)


def _quartiles(values: np.ndarray) -> tuple[float, float, float]:
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float(q25), float(q50), float(q75)


def _disentangled(result: Mapping[str, Any], threshold: float) -> bool:
    return float(result.get("sd", 0.0)) >= threshold and result.get("over_regularized") is not True


def _summarize_arm(name: str, outcomes: Sequence[TrialOutcome], threshold: float, moved: float) -> ArmSummary:
    ok = [o.result for o in outcomes if o.ok]
    if not ok:
        raise DataError(f"arm {name!r}: no finished trial to summarise ({len(outcomes)} trial(s), all failed or "
                        "unfinished).")
    n = len(ok)
    k = sum(_disentangled(r, threshold) for r in ok)
    over = sum(r.get("over_regularized") is True for r in ok)
    quartiles = {}
    for key in ("sd", "skl", "rec_per_pixel", "reg_per_pixel", "constant_rec_per_pixel"):
        vals = _finite([r.get(key) for r in ok])
        if vals.size:
            quartiles[key] = _quartiles(vals)
    trajectory = {key: float(np.median(v)) for key in TRAJECTORY_EPOCHS
                  if (v := _finite([r.get(key) for r in ok])).size}
    n_moved = sum(abs(float(r["sd"]) - float(r["sd_epoch_10"])) > moved for r in ok
                  if "sd" in r and "sd_epoch_10" in r)
    early = {}
    for key in TRAJECTORY_EPOCHS[:-1]:
        pairs = np.array([(float(r[key]), float(r["sd"])) for r in ok if key in r and "sd" in r])
        if len(pairs) > 2 and pairs.std(axis=0).min() > 0:
            early[key] = float(np.corrcoef(pairs.T)[0, 1])
    parts = sorted({key for r in ok for key in r if key.startswith("reg_") and key.endswith("_elbo")
                    and key != "reg_elbo"})
    reg_parts = {key: float(np.median(v)) for key in parts if (v := _finite([r.get(key) for r in ok])).size}
    return ArmSummary(name, n, len(outcomes) - n, k, clopper_pearson(k, n), over, clopper_pearson(over, n),
                      quartiles, trajectory, n_moved, early, reg_parts)


def compare_arms(arms: Mapping[str, str | os.PathLike[str]], *, threshold: float = 0.8, moved: float = 0.1,
                 reference: str | None = None) -> Comparison:
    """Summarise each arm (a sweep directory) and test every arm against ``reference`` (default: the first).

    Raises
    ------
    ConfigError
        If fewer than one arm is given, the reference is not an arm, or the threshold is outside (0, 1].
    DataError
        If an arm's directory holds no finished trial.
    """
    if not arms:
        raise ConfigError("compare_arms: give at least one arm (name -> sweep directory).")
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"threshold {threshold!r}: S_D lies in (0, 1], so the threshold must too.")
    reference = reference or next(iter(arms))
    if reference not in arms:
        raise ConfigError(f"reference arm {reference!r} is not one of the arms ({', '.join(arms)}).")
    outcomes = {name: load_outcomes(Path(path)) for name, path in arms.items()}
    summaries = [_summarize_arm(name, outs, threshold, moved) for name, outs in outcomes.items()]
    per_seed = {name: {o.seed: dict(o.result) for o in outs if o.ok} for name, outs in outcomes.items()}
    paired = []
    ref = per_seed[reference]
    for name, results in per_seed.items():
        if name == reference:
            continue
        seeds = sorted(set(results) & set(ref))
        a = [_disentangled(results[s], threshold) for s in seeds]
        b = [_disentangled(ref[s], threshold) for s in seeds]
        only_a = sum(x and not y for x, y in zip(a, b, strict=True))
        only_b = sum(y and not x for x, y in zip(a, b, strict=True))
        sd_a = np.array([float(results[s]["sd"]) for s in seeds])
        sd_b = np.array([float(ref[s]["sd"]) for s in seeds])
        corr = float(np.corrcoef(sd_a, sd_b)[0, 1]) if len(seeds) > 2 and sd_a.std() > 0 and sd_b.std() > 0 \
            else math.nan
        paired.append(PairedTest(name, reference, len(seeds), sum(x and y for x, y in zip(a, b, strict=True)),
                                 only_a, only_b, mcnemar_exact(only_a, only_b), corr))
    return Comparison(threshold, moved, summaries, paired, per_seed)


def _q(arm: ArmSummary, key: str, digits: int = 2) -> str:
    if key not in arm.quartiles:
        return ""
    lo, med, hi = arm.quartiles[key]
    return f"{med:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def format_comparison(comparison: Comparison) -> str:
    """Markdown: one table of arms, one of S_D trajectories and L_REG parts, one of paired tests."""
    t = comparison.threshold
    head = ["arm", "trials", f"disentangled (S_D >= {t:g}), 95% CI", "over-regularised, 95% CI",
            "S_D median [q25, q75]", "S_KL median [q25, q75]", "L_REC", "constant predictor L_REC", "L_REG"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for a in comparison.arms:
        d_lo, d_hi = a.disentangled_ci
        o_lo, o_hi = a.over_regularized_ci
        failed = f" ({a.n_failed} failed)" if a.n_failed else ""
        lines.append("| " + " | ".join([
            a.name, f"{a.n}{failed}", f"{a.disentangled}/{a.n} ({100 * d_lo:.0f}-{100 * d_hi:.0f}%)",
            f"{a.over_regularized}/{a.n} ({100 * o_lo:.0f}-{100 * o_hi:.0f}%)", _q(a, "sd"), _q(a, "skl"),
            _q(a, "rec_per_pixel"), _q(a, "constant_rec_per_pixel"), _q(a, "reg_per_pixel")]) + " |")
    parts = sorted({p for a in comparison.arms for p in a.reg_parts})
    head = ["arm", *(f"S_D {k.removeprefix('sd_').replace('_', ' ') if k != 'sd' else 'final'}"
                     for k in TRAJECTORY_EPOCHS), f"moved after epoch 10 (> {comparison.moved:g})",
            "corr(S_D at epoch 0, final)", "corr(S_D at epoch 10, final)", *(f"{p} (median)" for p in parts)]
    lines += ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for a in comparison.arms:
        traj = [f"{a.trajectory[k]:.3f}" if k in a.trajectory else "" for k in TRAJECTORY_EPOCHS]
        early = [f"{a.early_correlation[k]:.2f}" if k in a.early_correlation else ""
                 for k in ("sd_epoch_0", "sd_epoch_10")]
        lines.append("| " + " | ".join([a.name, *traj, f"{a.moved}/{a.n}", *early,
                                        *(f"{a.reg_parts[p]:.3g}" if p in a.reg_parts else "" for p in parts)])
                     + " |")
    if comparison.paired:
        head = ["arm vs reference", "paired seeds", "both disentangled", "only arm", "only reference",
                "exact McNemar p", "corr(S_D arm, S_D reference)"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for p in comparison.paired:
            lines.append("| " + " | ".join([f"{p.arm} vs {p.reference}", str(p.n_pairs), str(p.both),
                                            str(p.only_arm), str(p.only_reference), f"{p.p_value:.3g}",
                                            f"{p.sd_correlation:.2f}"]) + " |")
    return "\n".join(lines) + "\n"


def plot_arms(comparison: Comparison) -> Any:
    """One strip per arm for S_D and for S_KL (a point per trial, the same horizontal offset for the same seed
    in every arm), the disentanglement threshold drawn on the S_D panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [a.name for a in comparison.arms]
    seeds = sorted({s for results in comparison.per_seed.values() for s in results})
    offset = {s: (i / max(len(seeds) - 1, 1) - 0.5) * 0.5 for i, s in enumerate(seeds)}
    fig, axes = plt.subplots(1, 2, figsize=(4 + 1.6 * len(names), 4.2))
    for ax, key, label in ((axes[0], "sd", "S_D (test encoder means)"), (axes[1], "skl", "S_KL")):
        for i, name in enumerate(names):
            pts = [(i + offset[s], float(r[key])) for s, r in comparison.per_seed[name].items()
                   if key in r and math.isfinite(float(r[key]))]
            if pts:
                x, y = zip(*pts, strict=True)
                ax.scatter(x, y, s=14, alpha=0.75)
                ax.hlines(float(np.median(y)), i - 0.3, i + 0.3, colors="k", linewidth=1.5)
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(comparison.threshold, color="r", linestyle="--", linewidth=1,
                    label=f"disentangled: S_D >= {comparison.threshold:g}")
    axes[0].set_ylim(0.45, 1.02)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
