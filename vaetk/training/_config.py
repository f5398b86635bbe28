"""The experiment configuration: one TOML file, parsed strictly into frozen dataclasses.

An experiment file has the tables ``[data]``, ``[model]`` (with ``[model.architecture]`` and ``[model.prior]``
component tables: ``name`` plus that plugin's parameters), ``[training]``, ``[schedule]`` (``kind`` plus that
kind's parameters, see :mod:`vaetk.training._schedules`), ``[semi_supervised]`` and ``[evaluation]`` (with
``[[evaluation.metrics]]`` component tables). Every table and key is optional except ``data.path``; unknown keys
are errors naming their path with a suggestion. The component tables (architecture, prior, metrics) are resolved
through the registry while parsing, names and parameters alike, so a misspelt name or key fails here, before any
data is loaded; names are never compared against a fixed list.

Presets ship as package data in ``vaetk/configs/experiments/`` and load by name (``load_experiment("mixture_
hierarchical")``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vaetk.config import (
    PRESET_PREFIX,
    config_to_dict,
    dump_toml,
    parse_config,
    preset_names,
    preset_or_file,
    resolve_component,
)
from vaetk.errors import ConfigError, PluginError
from vaetk.registry import registry
from vaetk.training._schedules import make_schedule, parse_schedule

__all__ = [
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "ModelConfig",
    "SemiSupervisedConfig",
    "TrainingConfig",
    "experiment_to_toml",
    "list_presets",
    "load_experiment",
    "parse_experiment",
    "resolve_components",
]



@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the training and test samples come from.

    Attributes
    ----------
    path : str
        A dataset store (``DIR.zarr``) or an HDF5 file (the authors' layout or ``vaetk export pdebench``'s); in an
        experiment file a relative path is relative to that file. Required (``vaetk train --data`` can supply it).
    test_path : str
        A separate dataset for the test split (e.g. the authors' test HDF5 file, since each of their files holds
        one split); empty: the test split of ``path``. Without any test split, training says so and evaluates on
        the training split.
    train_split, test_split : str
        Split names inside the store(s).
    stream : bool
        Read the fields from the store one mini-batch at a time instead of loading them (data larger than memory;
        stores only). The run is the same; shuffled batches read each shard many times, so it is slower.
    n_train, n_test : int
        Use only the first n samples of a split (0: all).
    """

    path: str = ""
    test_path: str = ""
    train_split: str = "train"
    test_split: str = "test"
    stream: bool = False
    n_train: int = 0
    n_test: int = 0

    def __post_init__(self) -> None:
        if self.n_train < 0 or self.n_test < 0:
            raise ConfigError(f"n_train and n_test must be >= 0 (0 = all samples), got {self.n_train}, {self.n_test}.")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The VAE's components, each a registry name plus that plugin's parameters.

    Attributes
    ----------
    latent_dim : int
        Latent dimension (the paper: the number of generative parameters).
    architecture, prior : table
        ``{name = "...", provider = "...", <parameters>}``; resolved by :func:`vaetk.config.resolve_component`.
    init_decoder_logvar : bool
        Start the decoder log-variance at the log of the per-pixel training-data variance (the constant
        predictor's optimum) instead of the architecture's own initial value. This is what removes most of the
        authors' long reconstruction-only phase.
    init_decoder_mean : bool
        Set the architecture's fixed decoder offset to the per-pixel training-data mean (the constant predictor's
        mean), so the network learns only deviations from the mean field. The Darcy fields vary little against
        their mean; without the offset the decoder first has to learn the mean itself and reaches a given L_REC
        later. Stored in the weights (a buffer), so a trained model reloads with it.
    standardize : bool
        Let the network work in standardised units (:meth:`Architecture.init_standardization`): the encoder
        sees (x - mean) / s and the decoder's raw output is multiplied by s, with the per-pixel training mean and
        s the per-channel standard deviation around it. The same loss units; the model family gains a fixed
        per-pixel input offset that bias-free convolutions cannot represent (see
        :meth:`Architecture.init_standardization`). Without it, data whose spread is small against its mean
        (the shifted-Gaussian fields vary by about 1%) trains no better than the constant predictor
        (REPRODUCTION.md, section 5.2). Stored in the weights (buffers).
    """

    latent_dim: int = 2
    architecture: dict[str, Any] = field(default_factory=lambda: {"name": "small"})
    prior: dict[str, Any] = field(default_factory=lambda: {"name": "standard_normal"})
    init_decoder_logvar: bool = True
    init_decoder_mean: bool = True
    standardize: bool = True

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}.")


PRECISIONS = ("float32", "tf32", "bf16")


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """Optimisation, units, seeds, device and bookkeeping.

    Attributes
    ----------
    epochs : int
        Total epochs (the reconstruction phase included).
    batch_size : int
        Mini-batch size; 0 means full batch.
    lr : float
        Adam learning rate at epoch 0.
    lr_milestones : list of [epoch, lr]
        Piecewise-constant decay: from ``epoch`` on, the learning rate is ``lr``.
    normalization : {"per_pixel", "elbo"}
        Units of the minimised loss (see :mod:`vaetk.models.vae`); logs always show both.
    seed : int
        Root seed of the weights, the mini-batch order and the reparameterisation noise.
    device : str
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    checkpoint_every : int
        Write a checkpoint every N epochs (0: only at the end).
    eval_every : int
        Compute the test losses and S_D every N epochs (and at the last epoch).
    sanity_check : bool
        Run one batch through the model before training and fail early with a clear error.
    deterministic : bool
        ``torch.use_deterministic_algorithms`` during training (bitwise reproducible on CPU for a fixed
        thread count).
    n_threads : int, optional
        torch intra-op threads during training (omitted: torch's default). On a busy machine 1 thread is often
        much faster than oversubscribed cores.
    precision : {"float32", "tf32", "bf16"}
        Arithmetic of the training steps. ``"float32"``: exact float32. ``"tf32"``: CUDA matrix products and
        convolutions in TensorFloat-32 (10-bit mantissa; on a CPU identical to float32). ``"bf16"``: the forward
        pass under ``torch.autocast`` with bfloat16 (losses, reductions, weights and optimiser in float32).
        Evaluation and metrics always run in float32. See the README's GPU section for the measured effect.
    compile : bool
        ``torch.compile`` the architecture's encoder and decoder for training (compiles on the first steps;
        pays off on long GPU runs).
    detector_reg_tol, detector_rec_margin : float
        The over-regularisation detector fires when the final per-pixel L_REG is below ``detector_reg_tol`` and
        the per-pixel L_REC is within ``detector_rec_margin`` of the constant predictor's (Theorem 1).
    """

    epochs: int = 200
    batch_size: int = 64
    lr: float = 5e-4
    lr_milestones: tuple[tuple[int, float], ...] = ()
    normalization: Literal["per_pixel", "elbo"] = "per_pixel"
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 0
    eval_every: int = 1
    sanity_check: bool = True
    deterministic: bool = True
    n_threads: int | None = None
    precision: Literal["float32", "tf32", "bf16"] = "float32"
    compile: bool = False
    detector_reg_tol: float = 0.05
    detector_rec_margin: float = 0.25

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, "epochs", "an int >= 1", self.epochs),
            (self.batch_size >= 0, "batch_size", "an int >= 0 (0 = full batch)", self.batch_size),
            (self.lr > 0, "lr", "a number > 0", self.lr),
            (self.checkpoint_every >= 0, "checkpoint_every", "an int >= 0 (0 = only at the end)",
             self.checkpoint_every),
            (self.eval_every >= 1, "eval_every", "an int >= 1", self.eval_every),
            (self.n_threads is None or self.n_threads >= 1, "n_threads", "an int >= 1 (or omitted)", self.n_threads),
            (self.precision in PRECISIONS, "precision", f"one of {', '.join(map(repr, PRECISIONS))}",
             self.precision),
            (self.detector_reg_tol > 0, "detector_reg_tol", "a number > 0", self.detector_reg_tol),
            (self.detector_rec_margin > 0, "detector_rec_margin", "a number > 0", self.detector_rec_margin),
        ]
        for ok, name, expected, value in checks:
            if not ok:
                raise ConfigError(f"{name} must be {expected}, got {value!r}.")
        epochs = [e for e, _ in self.lr_milestones]
        if any(b <= a for a, b in zip(epochs, epochs[1:], strict=False)) or any(e < 1 for e in epochs):
            raise ConfigError(f"lr_milestones: epochs must be >= 1 and strictly increasing, got {epochs}.")
        if any(v <= 0 for _, v in self.lr_milestones):
            raise ConfigError(f"lr_milestones: learning rates must be > 0, got {list(self.lr_milestones)}.")
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}.")


@dataclass(frozen=True, kw_only=True)
class SemiSupervisedConfig:
    """The semi-supervised term of eq. 28, in the authors' form.

    -log q(z = theta | y), summed over latent dimensions and averaged over the labelled samples only, times
    ``weight``, is added to the batch mean of the other loss terms (in either normalisation, also during the
    reconstruction phase), and every mini-batch carries all labelled samples (the authors trained full-batch).

    Attributes
    ----------
    n_labels : int
        Labelled samples, drawn without replacement from the *training* split with ``label_seed`` (0: off).
    label_seed : int
        Seed of that draw (recorded with the run, indices included).
    weight : float
        Multiplier of the term (the authors': 1).
    """

    n_labels: int = 0
    label_seed: int = 0
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.n_labels < 0:
            raise ConfigError(f"n_labels must be >= 0, got {self.n_labels}.")
        if self.weight < 0:
            raise ConfigError(f"weight must be >= 0, got {self.weight}.")


@dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    """What ``vaetk evaluate`` computes.

    Attributes
    ----------
    metrics : list of tables
        Metric component tables ``{name = "sd", <parameters>}`` resolved through the registry.
    seed : int
        Seed of the evaluation (sampled latents, metric randomness).
    n_bootstrap : int
        Bootstrap resamples for metric confidence intervals (0: none).
    n_reconstructions : int
        Test samples shown in the reconstruction figure.
    """

    metrics: tuple[dict[str, Any], ...] = ({"name": "sd"},)
    seed: int = 0
    n_bootstrap: int = 0
    n_reconstructions: int = 3

    def __post_init__(self) -> None:
        for i, table in enumerate(self.metrics):
            if not isinstance(table.get("name"), str):
                raise ConfigError(f"metrics[{i}].name: required key is missing or not a string.")
        if self.n_bootstrap < 0 or self.n_reconstructions < 0:
            raise ConfigError("n_bootstrap and n_reconstructions must be >= 0.")


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """A whole experiment (see the module docstring for the file layout)."""

    name: str = ""
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    schedule: dict[str, Any] = field(default_factory=lambda: {"kind": "klushyn"})
    semi_supervised: SemiSupervisedConfig = field(default_factory=SemiSupervisedConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    @property
    def schedule_kind(self) -> str:
        return parse_schedule(self.schedule)[0]

    @property
    def schedule_config(self) -> Any:
        return parse_schedule(self.schedule)[1]

    def with_overrides(self, *, data_path: str | None = None, device: str | None = None) -> ExperimentConfig:
        """A copy with the data path (relative to the working directory, made absolute) and/or device replaced
        (command-line overrides)."""
        config = self
        if data_path is not None:
            config = replace(config, data=replace(config.data, path=str(Path(data_path).expanduser().absolute())))
        if device is not None:
            config = replace(config, training=replace(config.training, device=device))
            TrainingConfig.__post_init__(config.training)
        return config


def resolve_components(config: ExperimentConfig) -> dict[str, tuple[type[Any], Any]]:
    """Resolve every component table of ``config`` through the registry: ``{path: (plugin_class, Config)}``.

    The paths are ``"model.architecture"``, ``"model.prior"`` and ``"evaluation.metrics[i]"``.

    Raises
    ------
    PluginNotFoundError
        A name no installed plugin has (the message suggests close matches).
    PluginLoadError, PluginValidationError, PluginConflictError
        A plugin that fails to import or to meet its contract, or a name several distributions provide.
    ConfigError
        A parameter the plugin's ``Config`` rejects (unknown key with a suggestion, wrong type or value).
    """
    tables = [("architectures", "model.architecture", config.model.architecture),
              ("priors", "model.prior", config.model.prior)]
    tables += [("metrics", f"evaluation.metrics[{i}]", t) for i, t in enumerate(config.evaluation.metrics)]
    for group_key, path, table in tables:
        # Unknown names first: they fail from installed metadata alone, before any plugin (or torch) is imported.
        group, name = registry.group(group_key), table.get("name")
        if isinstance(name, str) and name not in group and name not in group.aliases:
            resolve_component(group_key, table, path=path)  # raises PluginNotFoundError with suggestions
    return {path: resolve_component(group, table, path=path) for group, path, table in tables}


def parse_experiment(data: Mapping[str, Any], *, source: str = "experiment") -> ExperimentConfig:
    """Parse an experiment table (from TOML) strictly; ``source`` names it in messages.

    Besides the keys and values of every table, the architecture, the prior and the metrics are resolved through
    the registry (:func:`resolve_components`), so an unknown name or parameter fails here, before any data is
    loaded.

    Raises
    ------
    ConfigError
        Unknown keys (with suggestions), wrong types or values, in vaetk's tables or a plugin's parameters.
    PluginError
        An unknown component name (:class:`PluginNotFoundError`, with suggestions) or a broken plugin.
    """
    try:
        config = parse_config(ExperimentConfig, data, path="experiment")
        kind, schedule_config = parse_schedule(config.schedule, path="experiment.schedule")
        make_schedule(kind, schedule_config, steps_per_epoch=1)  # range checks of the kind's parameters
        recon = getattr(schedule_config, "reconstruction_epochs", 0)
        if recon and recon >= config.training.epochs:  # beta = 0 for the whole run: not a VAE (issue 15)
            raise ConfigError(
                f"schedule.reconstruction_epochs = {recon} is not below training.epochs = "
                f"{config.training.epochs}: beta would be 0 for the whole run and the prior never trained. Lower "
                "schedule.reconstruction_epochs or raise training.epochs; to train a plain autoencoder on purpose, "
                'use [schedule] kind = "constant", value = 0.'
            )
        resolve_components(config)
    except (ConfigError, PluginError) as exc:
        message = f"{source}: " + str(exc).removeprefix("experiment.").removeprefix("experiment: ")
        raise type(exc)(message) from (None if isinstance(exc, ConfigError) else exc.__cause__)
    return config


def list_presets() -> list[str]:
    """Names of the experiment presets shipped with vaetk."""
    return preset_names("experiments")


def experiment_table(path_or_name: str | Path) -> tuple[dict[str, Any], str]:
    """The raw table of an experiment file or preset (the rule: :func:`vaetk.config.preset_or_file`), and its
    name for messages.

    A relative ``data.path`` (or ``test_path``) in a file is resolved against that file's folder, in a preset
    against the working directory; either way it is made absolute, so the run directory that records it can be
    evaluated from anywhere.

    Raises
    ------
    ConfigError
        Unknown preset (with suggestions), missing or unreadable file, invalid TOML.
    """
    table, path = preset_or_file(path_or_name, "experiments")
    base, source = (Path.cwd(), f"preset {str(path_or_name).removeprefix(PRESET_PREFIX)!r}") if path is None \
        else (path.parent, str(path))
    data = table.get("data")
    for key in ("path", "test_path"):
        if isinstance(data, dict) and isinstance(data.get(key), str) and data[key]:
            data[key] = str((base / Path(data[key]).expanduser()).absolute())
    return table, source


def load_experiment(path_or_name: str | Path, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Load an experiment from a TOML file, or a preset by name (addressing: :func:`experiment_table`).

    Parameters
    ----------
    path_or_name : str or Path
    overrides : mapping, optional
        Dotted keys set before parsing (``{"training.epochs": 10}``; the command line's ``--set``).

    Raises
    ------
    ConfigError
        Missing file or unknown preset (with suggestions), invalid TOML, unknown keys, wrong types or values.
    """
    from vaetk.sweeps._grid import apply_overrides

    table, source = experiment_table(path_or_name)
    if overrides:
        table, source = apply_overrides(table, overrides), f"{source} with --set {', '.join(overrides)}"
        for key in ("path", "test_path"):  # a path given here is relative to the working directory
            value = overrides.get(f"data.{key}")
            if isinstance(value, str) and value:
                table["data"][key] = str(Path(value).expanduser().absolute())
    return parse_experiment(table, source=source)


def experiment_to_toml(config: ExperimentConfig) -> str:
    """The fully resolved experiment as TOML text (every default written out)."""
    return dump_toml(config_to_dict(config))
