"""Run-directory files: atomic writes, checkpoints and model files (weights + JSON, no pickled code).

A run directory holds::

    experiment.toml        the fully resolved experiment (identifies the run: a different one is refused)
    provenance.json        versions, plugin distributions, seeds, label indices, device
    checkpoint.pt          the latest checkpoint (weights, optimiser, schedule, RNG states, history)
    history.csv/.json      per-epoch metrics
    model.pt, model.json   the final weights (a state_dict) and what is needed to rebuild the model
    summary.json           final losses, constant-predictor baseline, detector verdict, timings

Everything is written to a temporary file next to its target and moved into place with ``os.replace``, so a
killed run leaves either the old file or the new one, never half of one. Files are read with
``torch.load(weights_only=True)``: no code is unpickled.

Version policy on load: a model or checkpoint written by another vaetk version, or with a plugin from another
distribution version, loads with a :class:`VersionMismatchWarning` (the weights usually still fit; results may
differ); ``strict_versions=True`` turns that into a :class:`~vaetk.errors.DataError`. A plugin that is not
installed at all is an error naming the distribution to install.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from vaetk._atomic import atomic_write_bytes, atomic_write_text, temporary_path
from vaetk.errors import DataError, VaetkWarning

__all__ = [
    "VersionMismatchWarning",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_versions",
    "load_checkpoint",
    "read_json",
    "save_checkpoint",
]

CHECKPOINT = "checkpoint.pt"
MODEL_WEIGHTS = "model.pt"
MODEL_META = "model.json"
EXPERIMENT = "experiment.toml"
PROVENANCE = "provenance.json"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
SUMMARY = "summary.json"
FORMAT_VERSION = 1


class VersionMismatchWarning(VaetkWarning):
    """A model or checkpoint was written with other versions of vaetk or of a plugin's distribution."""


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to ``path`` atomically."""
    path = Path(path)
    tmp = temporary_path(path)
    with open(tmp, "wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON file, with a DataError naming ``what`` when it is missing or corrupted."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{what} {str(path)!r} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{what} {str(path)!r} is unreadable or corrupted: {exc}") from None


def torch_load(path: str | os.PathLike[str], what: str, *, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with a DataError naming ``what`` when missing or corrupted."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {str(path)!r} does not exist.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated / foreign files
        raise DataError(f"{what} {str(path)!r} is corrupted or not a vaetk file ({type(exc).__name__}: {exc}). "
                        "Delete it to start over, or restore it from a backup.") from None


def save_checkpoint(run_dir: Path, state: Mapping[str, Any]) -> None:
    """Write the run's checkpoint atomically (see the module docstring)."""
    atomic_torch_save({"format": FORMAT_VERSION, **state}, Path(run_dir) / CHECKPOINT)


def load_checkpoint(run_dir: Path, *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read the run's checkpoint; DataError when it is missing, corrupted or incomplete."""
    path = Path(run_dir) / CHECKPOINT
    state = torch_load(path, "Checkpoint", map_location=map_location)
    required = {"format", "epoch", "model", "optimizer", "schedule", "rng", "history", "versions"}
    if not isinstance(state, dict) or not required <= set(state):
        missing = sorted(required - set(state)) if isinstance(state, dict) else sorted(required)
        raise DataError(f"Checkpoint {str(path)!r} is incomplete (missing {', '.join(missing)}); it was not "
                        "written by this version of vaetk's trainer.")
    if state["format"] != FORMAT_VERSION:
        raise DataError(f"Checkpoint {str(path)!r} has format {state['format']}, this vaetk reads format "
                        f"{FORMAT_VERSION}.")
    return state


def check_versions(recorded: Mapping[str, Any], current: Mapping[str, Any], *, what: str,
                   strict: bool = False) -> None:
    """Compare recorded and current versions ({"vaetk": ..., "torch": ..., "plugins": {role: {...}}}).

    Differences warn (VersionMismatchWarning), or raise DataError with ``strict=True``.
    """
    problems = []
    for key in ("vaetk",):
        if recorded.get(key) != current.get(key):
            problems.append(f"{key} {recorded.get(key)} (now {current.get(key)})")
    rec_plugins = recorded.get("plugins", {})
    for role, info in current.get("plugins", {}).items():
        old = rec_plugins.get(role)
        if old is None:
            continue
        if (old.get("distribution"), old.get("version")) != (info.get("distribution"), info.get("version")):
            problems.append(f"{role} {old.get('name')!r} from {old.get('distribution')} {old.get('version')} "
                            f"(now {info.get('distribution')} {info.get('version')})")
    if not problems:
        return
    message = f"{what} was written with " + "; ".join(problems) + "."
    if strict:
        raise DataError(message + " Install those versions, or load with strict_versions=False.")
    warnings.warn(message + " The weights were loaded; results may differ from the original run.",
                  VersionMismatchWarning, stacklevel=3)
