"""Training VAEs: the experiment configuration, beta schedules, the trainer, run directories and evaluation.

Names are imported lazily so that ``import vaetk.training`` does not import torch.

Examples
--------
>>> from vaetk.training import load_experiment
>>> load_experiment("kle2_standard_normal").model.latent_dim
2
"""

from __future__ import annotations

from vaetk._lazy import lazy_exports

_EXPORTS = {
    # configuration
    "ExperimentConfig": "vaetk.training._config",
    "DataConfig": "vaetk.training._config",
    "ModelConfig": "vaetk.training._config",
    "TrainingConfig": "vaetk.training._config",
    "SemiSupervisedConfig": "vaetk.training._config",
    "EvaluationConfig": "vaetk.training._config",
    "load_experiment": "vaetk.training._config",
    "parse_experiment": "vaetk.training._config",
    "resolve_components": "vaetk.training._config",
    "list_presets": "vaetk.training._config",
    "experiment_to_toml": "vaetk.training._config",
    # schedules
    "SCHEDULES": "vaetk.training._schedules",
    "BetaSchedule": "vaetk.training._schedules",
    "KlushynSchedule": "vaetk.training._schedules",
    "ConstantSchedule": "vaetk.training._schedules",
    "LinearSchedule": "vaetk.training._schedules",
    "CyclicalSchedule": "vaetk.training._schedules",
    "PiecewiseLR": "vaetk.training._schedules",
    "make_schedule": "vaetk.training._schedules",
    # trainer
    "Trainer": "vaetk.training._trainer",
    "TrainResult": "vaetk.training._trainer",
    "select_labels": "vaetk.training._trainer",
    "resolve_device": "vaetk.training._trainer",
    # over-regularisation
    "ConstantPredictor": "vaetk.training._detector",
    "constant_predictor": "vaetk.training._detector",
    "detect_over_regularization": "vaetk.training._detector",
    "OverRegularizationWarning": "vaetk.training._detector",
    "NoTestSplitWarning": "vaetk.training._run",
    # runs
    "train_experiment": "vaetk.training._run",
    "TensorBoardLogger": "vaetk.training._tensorboard",
    "train_ensemble": "vaetk.training._ensemble",
    "EnsembleTrainer": "vaetk.training._ensemble",
    "build_model": "vaetk.training._run",
    "load_model": "vaetk.training._run",
    "load_data": "vaetk.training._run",
    "evaluate_run": "vaetk.training._evaluate",
    "VersionMismatchWarning": "vaetk.training._files",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
