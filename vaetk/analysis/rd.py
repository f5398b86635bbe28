"""The rate-distortion plane (paper Fig. 4): converged VAEs trained with different beta, L_REG against L_REC.

Train the points with a sweep over beta (``vaetk sweep EXP.toml --seeds 1 --set schedule.beta=[100, 10, 1]``,
or whatever key the experiment's schedule uses); :func:`rd_points` reads the sweep's trial results
(``rec_per_pixel``, ``reg_per_pixel``, ``over_regularized``) and :func:`plot_rd_plane` draws them, the
over-regularised ones (Theorem 1 detector) marked, optionally with the training trajectory of one run read from
its per-epoch history (``history.csv`` with ``train_rec_per_pixel`` and ``train_reg_per_pixel`` columns).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaetk.errors import ConfigError, DataError
from vaetk.sweeps import load_outcomes

__all__ = ["RDPoints", "plot_rd_plane", "rd_points", "read_trajectory"]


@dataclass(frozen=True)
class RDPoints:
    """One point per finished trial of a beta sweep (failed trials and trials without losses are left out)."""

    beta: np.ndarray
    rec: np.ndarray  # L_REC, per-pixel units
    reg: np.ndarray  # L_REG, per-pixel units
    over_regularized: np.ndarray  # bool
    trial_ids: list[str]

    def to_json(self) -> dict:
        return {"beta": self.beta.tolist(), "rec_per_pixel": self.rec.tolist(), "reg_per_pixel": self.reg.tolist(),
                "over_regularized": self.over_regularized.tolist(), "trial_ids": self.trial_ids}


def rd_points(sweep_dir: str | os.PathLike[str], beta_key: str) -> RDPoints:
    """Collect (beta, L_REC, L_REG, over-regularised) from the sweep in ``sweep_dir`` swept over ``beta_key``.

    Raises
    ------
    DataError
        If no finished trial has ``beta_key`` in its setting and both losses in its results.
    """
    rows = []
    swept: set[str] = set()
    for o in load_outcomes(sweep_dir):
        swept.update(o.setting)
        if not o.ok or beta_key not in o.setting:
            continue
        rec, reg = o.result.get("rec_per_pixel"), o.result.get("reg_per_pixel")
        if not isinstance(rec, int | float) or not isinstance(reg, int | float):
            continue
        rows.append((float(o.setting[beta_key]), float(rec), float(reg), o.result.get("over_regularized") is True,
                     o.trial_id))
    if not rows:
        raise DataError(f"{sweep_dir}: no finished trial swept over {beta_key!r} reports rec_per_pixel and "
                        f"reg_per_pixel (swept keys: {sorted(swept) or 'none'}).")
    rows.sort(key=lambda r: -r[0])
    beta, rec, reg, over, ids = zip(*rows, strict=True)
    return RDPoints(np.array(beta), np.array(rec), np.array(reg), np.array(over, dtype=bool), list(ids))


def read_trajectory(run_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(L_REG, L_REC) per epoch, per-pixel units, from a run's ``history.csv``."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        raise DataError(f"{run_dir}: no history.csv (is it a training run directory?).")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = ("train_rec_per_pixel", "train_reg_per_pixel")
    if not rows or any(k not in rows[0] for k in need):
        raise DataError(f"{path}: expected columns {', '.join(need)}.")
    reg = np.array([float(r["train_reg_per_pixel"]) for r in rows])
    rec = np.array([float(r["train_rec_per_pixel"]) for r in rows])
    return reg, rec


def plot_rd_plane(points: RDPoints, *, trajectory: tuple[np.ndarray, np.ndarray] | None = None,
                  log_rate: bool = True):
    """L_REC (distortion) against L_REG (rate); over-regularised points as red crosses, beta annotated."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if log_rate and np.any(points.reg <= 0):
        raise ConfigError("log_rate needs positive L_REG values; pass log_rate=False.")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    good = ~points.over_regularized
    ax.plot(points.reg[good], points.rec[good], "o", color="C0", label="converged")
    if np.any(~good):
        ax.plot(points.reg[~good], points.rec[~good], "x", color="C3", ms=8, mew=2, label="over-regularised")
    for b, r, d in zip(points.beta, points.reg, points.rec, strict=True):
        ax.annotate(f"{b:g}", (r, d), textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    if trajectory is not None:
        ax.plot(*trajectory, "-", color="0.5", lw=0.8, label="training trajectory")
    if log_rate:
        ax.set_xscale("log")
    ax.set_xlabel("L_REG (rate, per-pixel units)")
    ax.set_ylabel("L_REC (distortion, per-pixel units)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig
