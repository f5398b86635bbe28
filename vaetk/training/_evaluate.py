"""Evaluation of a finished run: test losses, every configured metric, figures and a report.

``evaluate_run(run_dir)`` loads the model (eval mode, ``weights_only`` weights) and the experiment's data, then
writes into the run directory::

    report.json    losses (train and test, both units), constant predictor, metrics, detector verdict, provenance
    report.md      the same as a short Markdown page, linking the figures
    plots/latent_space.png, plots/latents_vs_factors.png, plots/reconstructions.png, plots/training_curves.png

Metrics are the ``[[evaluation.metrics]]`` tables of the experiment, resolved through the registry and scored on
the encoder means of the test set against its generative parameters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaetk.config import config_to_dict
from vaetk.errors import ConfigError, VaetkWarning
from vaetk.models.vae import loss_units
from vaetk.training import _files as files
from vaetk.training._config import ExperimentConfig, parse_experiment
from vaetk.training._detector import constant_predictor, detect_over_regularization
from vaetk.training._run import load_data, load_model
from vaetk.training._trainer import derive_seed, encode_dataset, evaluate_model, resolve_device

__all__ = ["MetricFailedWarning", "evaluate_run", "metric_lines", "run_metrics"]

_EVAL, _PRIOR = 5, 6  # derive_seed streams (see _trainer)


class MetricFailedWarning(VaetkWarning):
    """A configured metric could not be computed on the evaluated latents (its report entry holds the error)."""


def run_metrics(tables: Any, latents: np.ndarray, factors: np.ndarray, *, seed: int,
                n_bootstrap: int = 0) -> dict[str, dict[str, Any]]:
    """Score latents against factors with every configured metric (component tables ``{name, ...params}``).

    Every table is resolved through the registry first (unknown names get suggestions, with the table's path),
    so a configuration error stops before anything is computed. A metric that then fails on these latents
    (a :class:`~vaetk.errors.DataError`, e.g. too few samples for its estimator) does not take the others down:
    its entry holds the error message instead of scores, and a :class:`MetricFailedWarning` is issued.

    Returns
    -------
    dict
        One entry per table, in order, keyed by the metric's name (``name[i]`` for the i-th table when a name is
        configured more than once): ``{"name", "primary", "higher_is_better", "config", "scores", "intervals",
        "error"}`` (``error`` is None on success; ``scores`` then holds the primary score first).
    """
    import dataclasses
    import warnings
    from collections import Counter

    from vaetk.config import resolve_component
    from vaetk.errors import DataError

    resolved = [resolve_component("metrics", table, path=f"evaluation.metrics[{i}]") for i, table in enumerate(tables)]
    counts = Counter(table["name"] for table in tables)
    results: dict[str, dict[str, Any]] = {}
    for i, (table, (cls, config)) in enumerate(zip(tables, resolved, strict=True)):
        from vaetk.metrics import evaluate_metric  # the group's module exists once a metric plugin resolved

        key = table["name"] if counts[table["name"]] == 1 else f"{table['name']}[{i}]"
        record: dict[str, Any] = {
            "name": table["name"],
            "primary": getattr(cls, "primary", ""),
            "higher_is_better": bool(getattr(cls, "higher_is_better", True)),
            "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {},
            "scores": {},
            "intervals": {},
            "error": None,
        }
        try:
            result = evaluate_metric(cls, latents, factors, config=config, seed=seed, n_bootstrap=n_bootstrap)
        except DataError as exc:
            record["error"] = str(exc)
            warnings.warn(f"metric {key!r} (evaluation.metrics[{i}]) failed on these latents: {exc}",
                          MetricFailedWarning, stacklevel=2)
        else:
            record["primary"] = record["primary"] or next(iter(result.scores))
            record["scores"] = {k: float(v) for k, v in result.scores.items()}
            record["intervals"] = {k: [float(a), float(b)] for k, (a, b) in result.intervals.items()}
        results[key] = record
    return results


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _with_evaluation_overrides(config: ExperimentConfig, overrides: Mapping[str, Any]) -> ExperimentConfig:
    from vaetk.sweeps._grid import apply_overrides

    fixed = [key for key in overrides if not key.startswith("evaluation.")]
    if fixed:
        raise ConfigError(f"--set {', '.join(fixed)}: evaluation can only change evaluation.* keys (the rest of the "
                          "experiment made the model); use --data for another dataset.")
    table = apply_overrides(config_to_dict(config), overrides)
    return parse_experiment(table, source=f"the run's experiment with --set {', '.join(overrides)}")


def evaluate_run(run_dir: str | Path, *, device: str = "cpu", data_path: str | None = None, plots: bool = True,
                 strict_versions: bool = False, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate the trained model of ``run_dir`` and write report.json, report.md and the figures.

    Parameters
    ----------
    run_dir : path-like
        A finished run directory (written by :func:`vaetk.training.train_experiment`).
    device : str
        Where to evaluate.
    data_path : str, optional
        Use this dataset instead of the experiment's ``data.path`` (same layout expected).
    plots : bool
        Write the PNG figures.
    strict_versions : bool
        Refuse (instead of warning about) a model written by other vaetk/plugin versions.
    overrides : mapping, optional
        Dotted ``evaluation.*`` keys to change for this evaluation (``--set evaluation.n_reconstructions=8``); the
        rest of the experiment made the model and cannot change.

    Returns
    -------
    dict
        The report (as written to report.json).
    """
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    model, config = load_model(run_dir, device=str(dev), strict_versions=strict_versions)
    if overrides:
        config = _with_evaluation_overrides(config, overrides)
    config = config.with_overrides(data_path=data_path)
    train_x, train_theta, test_x, test_theta = load_data(config)
    eval_x, eval_theta, split = (test_x, test_theta, "test") if test_x is not None else (train_x, train_theta, "train")
    seed = derive_seed(config.evaluation.seed, _EVAL)
    train_x, train_theta = train_x.to(dev), train_theta.to(dev)
    eval_x, eval_theta = eval_x.to(dev), eval_theta.to(dev)

    losses = {"train": evaluate_model(model, train_x, train_theta, seed=seed, device=dev)}
    if split == "test":
        losses["test"] = evaluate_model(model, eval_x, eval_theta, seed=seed, device=dev)
    baseline = constant_predictor(train_x)
    tc = config.training
    over = detect_over_regularization(losses["train"]["rec_per_pixel"], losses["train"]["reg_per_pixel"], baseline,
                                      reg_tol=tc.detector_reg_tol, rec_margin=tc.detector_rec_margin)
    encoded = encode_dataset(model, eval_x, seed=seed, device=dev)
    theta_np = eval_theta.cpu().numpy().astype(np.float64)
    means_np = encoded["mean"].numpy().astype(np.float64)
    metrics = run_metrics(config.evaluation.metrics, means_np, theta_np, seed=config.evaluation.seed,
                          n_bootstrap=config.evaluation.n_bootstrap)

    report: dict[str, Any] = {
        "run_dir": str(run_dir),
        "experiment": config.name,
        "evaluated_on": split,
        "n_samples": int(len(eval_x)),
        "losses": losses,
        "units": loss_units(model.prior.authors_normalizer(), model.latent_dim),
        "constant_predictor": {"rec_per_pixel": baseline.rec_per_pixel, "rec_elbo": baseline.rec_elbo},
        "over_regularized": over,
        "metrics": metrics,
        "latent_std_mean": encoded["std"].mean(0).tolist(),
        "plots": [],
    }
    provenance_path = run_dir / files.PROVENANCE
    if provenance_path.exists():
        report["provenance"] = files.read_json(provenance_path, "Provenance")
    history = files.read_json(run_dir / files.HISTORY_JSON, "History") if (run_dir / files.HISTORY_JSON).exists() \
        else []
    if plots:
        report["plots"] = _write_plots(run_dir, model, encoded, eval_x, theta_np, history, baseline.rec_per_pixel,
                                       config.evaluation.n_reconstructions, seed)
    files.atomic_write_text(run_dir / "report.json", json.dumps(_finite(report), indent=1))
    files.atomic_write_text(run_dir / "report.md", _markdown(report))
    return report


def _write_plots(run_dir: Path, model: Any, encoded: dict[str, torch.Tensor], x: torch.Tensor, theta: np.ndarray,
                 history: list[dict[str, Any]], baseline: float, n_reconstructions: int, seed: int) -> list[str]:
    from vaetk.training._plots import (
        plot_latent_space,
        plot_latents_vs_factors,
        plot_reconstructions,
        plot_training_curves,
    )

    folder = run_dir / "plots"
    folder.mkdir(exist_ok=True)
    generator = torch.Generator().manual_seed(derive_seed(seed, _PRIOR))
    with torch.no_grad():
        prior_samples = model.prior.cpu().sample(len(theta), generator=generator).numpy()
    k = min(n_reconstructions, len(x))
    figures = {
        "latent_space.png": plot_latent_space(encoded["sample"].numpy(), prior_samples, theta),
        "latents_vs_factors.png": plot_latents_vs_factors(encoded["mean"].numpy(), encoded["std"].numpy(), theta),
        "training_curves.png": plot_training_curves(history, baseline, loss_units(model.prior.authors_normalizer(),
                                                                                  model.latent_dim))
        if history else None,
        "reconstructions.png": plot_reconstructions(x[:k].cpu().numpy(), encoded["reconstruction"][:k].numpy(),
                                                    theta[:k])
        if k else None,
    }
    written = []
    for name, fig in figures.items():
        if fig is None:
            continue
        path = folder / name
        tmp = folder / f".{name}.tmp.png"
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
        written.append(f"plots/{name}")
    return written


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# vaetk evaluation: {report['experiment'] or report['run_dir']}", ""]
    lines.append(f"Evaluated on the {report['evaluated_on']} split ({report['n_samples']} samples).")
    units = report["units"]
    lines += ["", f"| split | L_REC ({units['rec_per_pixel']}) | L_REG ({units['reg_per_pixel']}) | authors' loss "
              f"({units['loss_per_pixel']}) | -ELBO ({units['loss_elbo']}) | S_D |", "|---|---|---|---|---|---|"]
    for split, values in report["losses"].items():
        lines.append(f"| {split} | {values['rec_per_pixel']:.4f} | {values['reg_per_pixel']:.4f} | "
                     f"{values['loss_per_pixel']:.4f} | {values['loss_elbo']:.1f} | {values.get('sd', math.nan):.3f} |")
    cp = report["constant_predictor"]
    lines += ["", f"Constant predictor (Theorem 1): L_REC = {cp['rec_per_pixel']:.4f} nats/pixel. "
              f"Over-regularised: **{'yes' if report['over_regularized'] else 'no'}**.", "", "## Metrics", ""]
    lines += metric_lines(report["metrics"], markdown=True) or ["No metrics configured ([[evaluation.metrics]])."]
    if report["plots"]:
        lines += ["", "## Figures", ""]
        lines += [f"![{p}]({p})" for p in report["plots"]]
    return "\n".join(lines) + "\n"


def metric_lines(metrics: dict[str, dict[str, Any]], *, markdown: bool = False) -> list[str]:
    """One line per configured metric: its primary score (with its interval and direction), then the others, or
    its error."""
    lines = []
    for key, record in metrics.items():
        label = f"`{key}`" if markdown else f"metric {key}:"
        if record.get("error"):
            lines.append(f"{'- ' if markdown else '  '}{label} FAILED: {record['error']}")
            continue
        primary = record["primary"]
        parts = []
        for name, value in record["scores"].items():
            interval = record["intervals"].get(name)
            shown = f"{value:.4f}" if name == primary or not float(value).is_integer() else f"{int(value)}"
            text = f"{name} {shown}" + (f" [{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "")
            if name == primary:
                text = (f"**{text}**" if markdown else text) + \
                    f" ({'higher' if record.get('higher_is_better', True) else 'lower'} is better)"
            parts.append(text)
        lines.append(f"{'- ' if markdown else '  '}{label} {', '.join(parts)}")
    return lines
