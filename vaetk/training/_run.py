"""Runs: an experiment trained into a run directory (fresh or resumed), and models loaded back from one.

See :mod:`vaetk.training._files` for what a run directory holds. The rules that protect it:

- a new run needs a missing or empty directory;
- a directory holding the *same* experiment (same resolved config, same training data) is continued with
  ``resume=True`` and refused without it;
- a directory holding a different run, or anything that is not a vaetk run, is refused; nothing is overwritten.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata as metadata
import io
import json
import math
import platform
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaetk.config import config_to_dict, resolve_component
from vaetk.errors import ConfigError, DataError, PluginError, PluginNotFoundError, VaetkWarning
from vaetk.models.vae import loss_units
from vaetk.registry import IN_PROCESS
from vaetk.training import _files as files
from vaetk.training._config import ExperimentConfig, experiment_to_toml, parse_experiment
from vaetk.training._streaming import DatasetColumn, chunks
from vaetk.training._trainer import Trainer, TrainResult, derive_seed

__all__ = ["build_model", "load_data", "load_model", "train_experiment"]

_WEIGHTS = 1  # derive_seed stream of the initial weights (see _trainer)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def build_model(config: ExperimentConfig, input_shape: tuple[int, int, int]) -> tuple[Any, dict[str, Any]]:
    """Resolve the architecture and prior through the registry and compose them, with seeded initial weights.

    Returns
    -------
    model : VAE
    plugins : dict
        ``{"architecture": {name, distribution, version}, "prior": {...}}`` for provenance and version checks.
    """
    from vaetk.models.vae import VAE
    from vaetk.registry import registry

    mc = config.model
    arch_cls, arch_cfg = resolve_component("architectures", mc.architecture, path="model.architecture")
    prior_cls, prior_cfg = resolve_component("priors", mc.prior, path="model.prior")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(config.training.seed, _WEIGHTS))
        architecture = arch_cls(arch_cfg, input_shape=tuple(input_shape), latent_dim=mc.latent_dim)
        prior = prior_cls(prior_cfg, latent_dim=mc.latent_dim)
    plugins = {}
    for role, table, group in (("architecture", mc.architecture, registry.architectures),
                               ("prior", mc.prior, registry.priors)):
        info = group.info(table["name"], provider=table.get("provider"))
        plugins[role] = {"name": info.name, "distribution": info.distribution, "version": info.version}
    return VAE(architecture, prior), plugins


class NoTestSplitWarning(VaetkWarning):
    """The training data has no test split: the run is evaluated on its training split."""


def load_data(config: ExperimentConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Training and test tensors (fields float32 (N, C, H, W), theta float32 (N, s)) named by ``config.data``.

    The test split is optional: a store without it trains without per-epoch test losses.
    """
    from vaetk.data import DarcyDataset
    from vaetk.data._dataset import available_splits

    dc = config.data
    if not dc.path:
        raise ConfigError("data.path is not set: name a dataset store (DIR.zarr) or an HDF5 file in the experiment "
                          "file, or pass --data PATH.")
    if not Path(dc.path).exists():
        raise DataError(f"data.path: no dataset at {dc.path!r}. Generate one with `vaetk generate darcy PRESET --out "
                        f"{dc.path}`.")
    train = DarcyDataset(dc.path, dc.train_split, return_theta=True, in_memory=not dc.stream)
    if dc.n_train and dc.n_train > len(train):
        raise DataError(f"data.n_train = {dc.n_train} but split {dc.train_split!r} of {dc.path!r} holds only "
                        f"{len(train)} samples.")
    x, theta = _columns(train, dc.n_train)
    test_x = test_theta = None
    test = None
    if dc.test_path:
        if not Path(dc.test_path).exists():
            raise DataError(f"data.test_path: no dataset at {dc.test_path!r}.")
        test = DarcyDataset(dc.test_path, dc.test_split, return_theta=True, in_memory=not dc.stream)
    elif dc.test_split in (available_splits(dc.path) or []):
        test = DarcyDataset(dc.path, dc.test_split, return_theta=True, in_memory=not dc.stream)
    else:
        warnings.warn(f"{dc.path!r} holds no {dc.test_split!r} split, so there are no per-epoch test losses and the "
                      "run is evaluated on its training split. Name a test set with data.test_path (e.g. the "
                      "test HDF5 file of the authors' data).", NoTestSplitWarning, stacklevel=2)
    if test is not None:
        test_x, test_theta = _columns(test, dc.n_test)
    return x, theta, test_x, test_theta


def _columns(dataset: Any, n: int) -> tuple[Any, torch.Tensor]:
    """Fields and theta (float32) of the first ``n`` samples (0: all): tensors, or for a streamed dataset a column
    read one mini-batch at a time (theta, small, is always in memory)."""
    n = n or len(dataset)
    if dataset.fields is not None:
        return dataset.fields[:n].float(), dataset.theta[:n].float()
    from torch.utils.data import Subset

    return DatasetColumn(Subset(dataset, range(n)), 0), dataset.theta[:n].float()


def _fingerprint(x: Any, theta: Any) -> str:
    """A hash of the data's bytes: the same for the same data in memory or streamed (chunks hash as a whole)."""
    h = hashlib.sha256()
    for column in (x, theta):
        for chunk in chunks(column):
            h.update(chunk.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _identity(config: ExperimentConfig) -> dict[str, Any]:
    """The parts of an experiment that define a run (the device may change between resumes, and a resumed run may
    be given more epochs)."""
    data = config_to_dict(config)
    data["training"].pop("device", None)
    data["training"].pop("epochs", None)
    for key in ("path", "test_path"):  # runs recorded before paths were made absolute compare like new ones
        if data["data"].get(key):
            data["data"][key] = str(Path(data["data"][key]).absolute())
    return data


def _check_run_dir(out: Path, config: ExperimentConfig, resume: bool) -> ExperimentConfig | None:
    """Validate ``out`` for this experiment; return the existing run's experiment when it is to be continued."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {str(out)!r} is a file, not a run directory.")
    if not out.exists() or not any(p.name != files.LOCK for p in out.iterdir()):  # our own lock aside
        return None
    exp_file = out / files.EXPERIMENT
    if not exp_file.is_file():
        raise DataError(f"{str(out)!r} is not empty and is not a vaetk run directory (no {files.EXPERIMENT}); "
                        "choose another --out. Nothing was written.")
    try:
        import tomllib

        existing = parse_experiment(tomllib.loads(exp_file.read_text(encoding="utf-8")), source=str(exp_file))
    except (ConfigError, PluginError, OSError, ValueError) as exc:
        raise DataError(f"{str(out)!r} holds an unreadable experiment file ({exc}); choose another --out.") from None
    old, new = _identity(existing), _identity(config)
    if old != new:
        diffs = _differences(old, new)
        raise DataError(f"{str(out)!r} already holds a different run ({'; '.join(diffs[:3])}). Choose another "
                        "--out; nothing was overwritten.")
    if not resume:
        raise DataError(f"{str(out)!r} already holds this run ({existing.training.epochs} epochs). Pass --resume to "
                        "continue it (also to a larger training.epochs), or choose another --out; nothing was "
                        "overwritten.")
    return existing


def _read_provenance(out: Path) -> dict[str, Any]:
    try:
        return json.loads((out / files.PROVENANCE).read_text())
    except (OSError, ValueError):
        return {}


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new)):
            out += _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if old == new else [f"{path}: {old!r} there, {new!r} here"]


def _history_rows(history: list[dict[str, float]]) -> tuple[list[str], list[dict[str, float]]]:
    columns: list[str] = []
    for row in history:
        columns += [k for k in row if k not in columns]
    return columns, [{c: row.get(c, math.nan) for c in columns} for row in history]


def write_history(run_dir: Path, history: list[dict[str, float]]) -> None:
    """history.csv (one row per epoch, NaN where not evaluated) and history.json (null for NaN)."""
    columns, rows = _history_rows(history)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: repr(float(v)) for k, v in row.items()})
    files.atomic_write_text(run_dir / files.HISTORY_CSV, buf.getvalue())
    clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
             for row in rows]
    files.atomic_write_text(run_dir / files.HISTORY_JSON, json.dumps(clean, indent=1))


def current_versions(plugins: Mapping[str, Any]) -> dict[str, Any]:
    import vaetk

    return {"vaetk": str(vaetk.__version__), "torch": str(torch.__version__), "numpy": str(np.__version__),
            "python": platform.python_version(), "plugins": dict(plugins)}


def train_experiment(config: ExperimentConfig, out: str | Path, *, resume: bool = False, progress: bool = False,
                     callbacks: Sequence[Any] = ()) -> TrainResult:
    """Train ``config`` into the run directory ``out`` (see the module docstring for the directory rules).

    Parameters
    ----------
    config : ExperimentConfig
    out : path-like
        The run directory.
    resume : bool
        Continue the run already in ``out`` from its checkpoint (a run without a checkpoint starts over), also to
        a larger ``training.epochs`` (recorded in provenance.json).
    progress : bool
        tqdm progress bar.
    callbacks : sequence of callables
        ``callback(trainer, row)`` after each epoch (see :class:`Trainer`).

    Returns
    -------
    TrainResult
        Also written to ``out``: experiment.toml, provenance.json, checkpoint.pt, history.csv/.json, model.pt,
        model.json, summary.json.
    """
    with files.run_lock(out):  # one training per run directory (issue 15)
        return _train_experiment(config, Path(out), resume=resume, progress=progress, callbacks=callbacks)


def _train_experiment(config: ExperimentConfig, out: Path, *, resume: bool, progress: bool,
                      callbacks: Sequence[Any]) -> TrainResult:
    out = Path(out)
    existing = _check_run_dir(out, config, resume)
    train_x, train_theta, test_x, test_theta = load_data(config)
    model, plugins = build_model(config, tuple(train_x.shape[1:]))
    versions = current_versions(plugins)
    fingerprint = _fingerprint(train_x, train_theta)
    state = resume_state(out, config, versions, fingerprint) if existing is not None else None
    out.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(config, model, train_x, train_theta, test_x, test_theta,
                      checkpoint=checkpoint_writer(out, versions, fingerprint),
                      callbacks=[history_logger(out), *callbacks], progress=progress)
    start_run_dir(out, trainer, existing, state, versions, fingerprint)
    result = trainer.fit(resume_state=state)
    finish_run_dir(out, trainer, result, versions)
    return result


# -- the run-directory steps of a training call (shared with vaetk.training._ensemble) -----------------------------
def resume_state(out: Path, config: ExperimentConfig, versions: Mapping[str, Any], fingerprint: str
                 ) -> dict[str, Any] | None:
    """The checkpoint to continue from (None without one), checked against this code's versions and this data."""
    if not (out / files.CHECKPOINT).exists():
        return None
    state = files.load_checkpoint(out)
    files.check_versions(state["versions"], versions, what=f"The checkpoint in {str(out)!r}")
    if state.get("data_fingerprint") != fingerprint:
        raise DataError(f"The training data at {config.data.path!r} differs from the data the run in {str(out)!r} "
                        "was started with; it cannot be resumed on other data.")
    if state["epoch"] > config.training.epochs:
        raise DataError(f"The run in {str(out)!r} has already trained {state['epoch']} epochs; --resume can "
                        f"continue it to more epochs, not fewer (training.epochs = {config.training.epochs}).")
    return state


def checkpoint_writer(out: Path, versions: Mapping[str, Any], fingerprint: str) -> Callable[[dict[str, Any]], None]:
    def checkpoint(train_state: dict[str, Any]) -> None:
        files.save_checkpoint(out, {**train_state, "versions": versions, "data_fingerprint": fingerprint})

    return checkpoint


def history_logger(out: Path) -> Callable[[Trainer, dict[str, float]], None]:
    def log(trainer: Trainer, row: dict[str, float]) -> None:
        write_history(out, trainer.history)

    return log


def start_run_dir(out: Path, trainer: Trainer, existing: ExperimentConfig | None, state: dict[str, Any] | None,
                  versions: Mapping[str, Any], fingerprint: str, **extra: Any) -> None:
    """Write experiment.toml (new or lengthened runs) and provenance.json (``extra``: more top-level entries)."""
    config = trainer.config
    extended = existing is not None and existing.training.epochs != config.training.epochs
    if existing is None or extended:
        files.atomic_write_text(out / files.EXPERIMENT, experiment_to_toml(config))
    provenance = {
        "versions": versions,
        "seed": config.training.seed,
        "label_seed": config.semi_supervised.label_seed,
        "label_indices": trainer.label_indices.tolist(),
        "device": str(trainer.device),
        "data": {"path": str(config.data.path), "n_train": int(trainer.train_x.shape[0]),
                 "n_test": 0 if trainer.test_x is None else int(trainer.test_x.shape[0]),
                 "sample_shape": list(trainer.train_x.shape[1:]), "fingerprint": fingerprint},
        "torch_threads": config.training.n_threads or torch.get_num_threads(),  # what training runs with
        "precision": config.training.precision,
        "compile": config.training.compile,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
    }
    provenance["epochs_extended"] = (_read_provenance(out) if existing is not None else {}).get("epochs_extended", [])
    if extended:  # the run's record says it was lengthened, and from where
        provenance["epochs_extended"].append({"from_epochs": existing.training.epochs,
                                              "to_epochs": config.training.epochs,
                                              "at_epoch": 0 if state is None else int(state["epoch"])})
    files.atomic_write_text(out / files.PROVENANCE, json.dumps(provenance, indent=1))


def finish_run_dir(out: Path, trainer: Trainer, result: TrainResult, versions: Mapping[str, Any]) -> None:
    """Write the final history, the model files and summary.json."""
    write_history(out, trainer.history)
    save_model(out, trainer.model, trainer.config, versions, tuple(trainer.train_x.shape[1:]))
    summary = {
        "final": result.final,
        "constant_predictor": {"rec_per_pixel": result.baseline.rec_per_pixel, "rec_elbo": result.baseline.rec_elbo},
        "over_regularized": result.over_regularized,
        "units": loss_units(trainer.model.prior.authors_normalizer(), trainer.model.latent_dim),
        "label_indices": result.label_indices.tolist(),
        "seconds_this_call": result.seconds,
        "seconds_training": float(sum(row["seconds"] for row in result.history)),
        "device": str(trainer.device),
    }
    files.atomic_write_text(out / files.SUMMARY, json.dumps(summary, indent=1))


def save_model(run_dir: Path, model: torch.nn.Module, config: ExperimentConfig, versions: Mapping[str, Any],
               input_shape: tuple[int, ...]) -> None:
    """model.pt (state_dict) + model.json (experiment, input shape, versions)."""
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    files.write_checked(Path(run_dir) / files.MODEL_WEIGHTS, buf.getvalue())  # with its SHA-256 (issue 15)
    meta = {"format": files.FORMAT_VERSION, "input_shape": list(input_shape), "versions": dict(versions),
            "experiment": config_to_dict(config)}
    files.write_checked(Path(run_dir) / files.MODEL_META, json.dumps(meta, indent=1).encode("utf-8"))


def _in_process_hint(exc: PluginNotFoundError, meta: Mapping[str, Any]) -> PluginNotFoundError:
    """A missing plugin that the training process had registered in-process: say so, and how to load the run."""
    recorded = meta.get("versions", {}).get("plugins", {})
    local = [f"{role} {info.get('name')!r}" for role, info in recorded.items()
             if isinstance(info, dict) and info.get("distribution") == IN_PROCESS]
    if not local:
        return exc
    return PluginNotFoundError(
        f"{exc} The run's {' and '.join(local)} was registered in-process (registry.<group>.register) by the "
        "program that trained it, not installed, so a new process cannot know it. Register it again and load or "
        "evaluate the run in that process (vaetk.training.load_model / evaluate_run), or package it with an "
        "entry point (plugins/README.md) so that `vaetk evaluate` finds it.")


def load_model(run_dir: str | Path, *, device: str = "cpu", strict_versions: bool = False
               ) -> tuple[Any, ExperimentConfig]:
    """Rebuild the trained model of a run directory (eval mode) and its experiment.

    Raises
    ------
    DataError
        Missing or corrupted model files, weights that do not fit the configured model, or (with
        ``strict_versions``) other vaetk/plugin versions than those that wrote it (otherwise a warning).
    """
    run_dir = Path(run_dir)
    meta = files.read_json(run_dir / files.MODEL_META, "Model description")
    if not isinstance(meta, dict) or meta.get("format") != files.FORMAT_VERSION or "experiment" not in meta:
        raise DataError(f"{str(run_dir / files.MODEL_META)!r} is not a vaetk model description (format "
                        f"{files.FORMAT_VERSION}).")
    try:
        config = parse_experiment(meta["experiment"], source=str(run_dir / files.MODEL_META))
    except PluginNotFoundError as exc:
        raise _in_process_hint(exc, meta) from None
    model, plugins = build_model(config, tuple(meta["input_shape"]))
    files.check_versions(meta.get("versions", {}), current_versions(plugins), what=f"The model in {str(run_dir)!r}",
                         strict=strict_versions)
    state = files.torch_load(run_dir / files.MODEL_WEIGHTS, "Model weights")
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as exc:
        raise DataError(f"The weights in {str(run_dir / files.MODEL_WEIGHTS)!r} do not fit the configured model: "
                        f"{exc}") from None
    return model.to(device).eval(), config
