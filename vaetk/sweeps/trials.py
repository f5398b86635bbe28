"""The default sweep trial: train an experiment with vaetk's trainer, then score it with its configured metrics.

A trial is any importable ``func(config: dict, run_dir: Path) -> mapping of scalars``; this one is what
``vaetk sweep`` runs unless ``--trial`` says otherwise. Its results are the keys :mod:`vaetk.sweeps._summary`
reads, taken on the test split when the experiment has one (else on the training split):

- ``rec_per_pixel``, ``reg_per_pixel``, ``loss_per_pixel``, ``loss_elbo``: final losses (authors' per-pixel units
  and true ELBO nats);
- ``over_regularized``: the trainer's Theorem 1 detector verdict, and ``constant_rec_per_pixel``: the L_REC of
  the training data's constant predictor it compares against;
- one entry per configured metric (``[[evaluation.metrics]]``, e.g. ``sd`` and ``skl``): its headline score on the
  encoder means (BatchNorm in eval mode, as the trainer evaluates) against the generative parameters, plus
  ``<metric>_<score>`` for its other scores (``sd_active_dims``; a score already named after its metric keeps its
  name: ``sd_floor``, ``skl_fit``);
- the trajectory of the orientation and of the prior: ``sd_epoch_<e>`` (S_D of the encoder means logged by the
  trainer at epochs 0, 10 and 50, where evaluated) and the final ``reg_<part>_elbo`` of every named L_REG sub-term
  (e.g. ``reg_kl_xi_elbo``, the hierarchical prior's KL over its inner variable);
- ``epochs`` and ``seconds``.

A retried trial resumes from the checkpoint its earlier attempt left in ``run_dir``.

``vaetk sweep --ensemble K`` runs up to K trials of a setting that differ only in their seeds in one process, as
one batched ensemble (``train_and_evaluate.ensemble``, :func:`train_and_evaluate_ensemble`); their run
directories and results are the same as trained one by one (up to float32 rounding).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["train_and_evaluate", "train_and_evaluate_ensemble"]

_LOSSES = ("rec_per_pixel", "reg_per_pixel", "loss_per_pixel", "rec_elbo", "reg_elbo", "loss_elbo")
_SD_EPOCHS = (10, 50)


def _trajectory(final: Mapping[str, float], history: list[dict[str, float]], split: str) -> dict[str, float]:
    """S_D at epochs 0, 10 and 50 (test split only) and the final L_REG sub-terms of ``split``."""
    out = {}
    if split == "test":
        if "initial_test_sd" in final:
            out["sd_epoch_0"] = float(final["initial_test_sd"])
        for row in history:
            if int(row["epoch"]) in _SD_EPOCHS and "test_sd" in row:
                out[f"sd_epoch_{int(row['epoch'])}"] = float(row["test_sd"])
    prefix = f"{split}_reg_"
    out.update({key[len(split) + 1:]: float(value) for key, value in final.items()
                if key.startswith(prefix) and key.endswith("_elbo") and key != f"{split}_reg_elbo"})
    return out


def _set_threads() -> None:
    import torch

    threads = int(os.environ.get("VAETK_TORCH_THREADS", "0") or 0)
    if threads > 0:  # the sweep runner sets this per trial; torch does not read OMP_NUM_THREADS after import
        torch.set_num_threads(threads)


def train_and_evaluate(config: Mapping[str, Any], run_dir: Path) -> dict[str, Any]:
    """Train ``config`` (an experiment table) into ``run_dir`` and return its summary results (see module doc)."""
    from vaetk.training import parse_experiment
    from vaetk.training._run import train_experiment

    _set_threads()
    experiment = parse_experiment(dict(config), source=f"trial {Path(run_dir).name}")
    result = train_experiment(experiment, run_dir, resume=True)
    return _score(experiment, run_dir, result)


def train_and_evaluate_ensemble(configs: Sequence[Mapping[str, Any]], run_dirs: Sequence[Path]
                                ) -> list[dict[str, Any] | Exception]:
    """:func:`train_and_evaluate` for trials that differ only in their seeds, trained as one batched ensemble in
    this process (:func:`vaetk.training.train_ensemble`); per trial its results or the exception that failed it."""
    from vaetk.training import parse_experiment
    from vaetk.training._ensemble import train_ensemble

    _set_threads()
    experiments = [parse_experiment(dict(c), source=f"trial {Path(d).name}") for c, d in zip(configs, run_dirs,
                                                                                              strict=True)]
    trained = train_ensemble(experiments, None, run_dirs, resume=True)
    out: list[dict[str, Any] | Exception] = []
    for experiment, run_dir, result in zip(experiments, run_dirs, trained, strict=True):
        if isinstance(result, Exception):
            out.append(result)
            continue
        try:
            out.append(_score(experiment, run_dir, result))
        except Exception as exc:  # noqa: BLE001 - recorded for this trial
            out.append(exc)
    return out


train_and_evaluate.ensemble = train_and_evaluate_ensemble  # type: ignore[attr-defined]  # what --ensemble runs


def _score(experiment: Any, run_dir: Path, result: Any) -> dict[str, Any]:
    """The results of a trained trial (see module doc)."""
    from vaetk.metrics import evaluate_metric
    from vaetk.models._evaluate import encoder_means
    from vaetk.registry import registry
    from vaetk.training._run import load_data, load_model

    final = result.final
    split = "test" if f"test_{_LOSSES[0]}" in final else "train"
    out: dict[str, Any] = {key: float(final[f"{split}_{key}"]) for key in _LOSSES if f"{split}_{key}" in final}
    out.update(_trajectory(final, result.history, split))
    out["constant_rec_per_pixel"] = float(result.baseline.rec_per_pixel)  # Theorem 1's predictor (training data)
    out["over_regularized"] = bool(result.over_regularized)
    out["epochs"] = int(final.get("epochs", 0))
    out["seconds"] = float(result.seconds)
    out["split"] = split

    model, _ = load_model(run_dir)
    train_x, train_theta, test_x, test_theta = load_data(experiment)
    x, theta = (test_x, test_theta) if split == "test" else (train_x, train_theta)
    means = encoder_means(model, x, batchnorm="eval")
    factors = theta.double().cpu().numpy()
    for table in experiment.evaluation.metrics:
        params = {k: v for k, v in table.items() if k not in ("name", "provider")}
        metric = registry.metrics.get(table["name"], provider=table.get("provider"))
        scored = evaluate_metric(metric, means, factors, config=params or None, seed=experiment.evaluation.seed)
        name = table["name"]
        for i, (key, value) in enumerate(scored.scores.items()):
            out[name if i == 0 else key if key.startswith(f"{name}_") else f"{name}_{key}"] = float(value)
    return out
