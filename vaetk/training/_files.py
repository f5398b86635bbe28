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

Checksums: checkpoint.pt, model.pt and model.json each have a sidecar ``NAME.sha256`` (JSON) recording the SHA-256
of the bytes written, checked on every load; a file that no longer matches (a flipped byte, a truncated copy) is a
:class:`~vaetk.errors.DataError`, never silently different weights. The sidecar is written *before* the file is
replaced and also keeps the previous file's hash, so a run killed between the two writes still loads. Files from
runs older than the sidecars load unchecked.

Lock: a training process holds ``.vaetk-lock`` (pid, host, start time) in its run directory for the whole run
(:func:`run_lock`); a second process is refused, a lock left by a dead process on this host is taken over.

Version policy on load: a model or checkpoint written by another vaetk version, or with a plugin from another
distribution version, loads with a :class:`VersionMismatchWarning` (the weights usually still fit; results may
differ); ``strict_versions=True`` turns that into a :class:`~vaetk.errors.DataError`. A plugin that is not
installed at all is an error naming the distribution to install.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from vaetk._atomic import atomic_write_bytes, atomic_write_text, temporary_path
from vaetk._locks import describe_owner, is_stale, owner_record, take_over_if_stale
from vaetk.errors import DataError, VaetkWarning

__all__ = [
    "VersionMismatchWarning",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_versions",
    "load_checkpoint",
    "read_json",
    "run_lock",
    "save_checkpoint",
    "verify_file",
    "write_checked",
]

CHECKPOINT = "checkpoint.pt"
MODEL_WEIGHTS = "model.pt"
MODEL_META = "model.json"
EXPERIMENT = "experiment.toml"
PROVENANCE = "provenance.json"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
SUMMARY = "summary.json"
LOCK = ".vaetk-lock"
CHECKSUM_SUFFIX = ".sha256"
FORMAT_VERSION = 1


class VersionMismatchWarning(VaetkWarning):
    """A model or checkpoint was written with other versions of vaetk or of a plugin's distribution."""


def checksum_path(path: str | os.PathLike[str]) -> Path:
    """The sidecar recording ``path``'s SHA-256 (``checkpoint.pt`` -> ``checkpoint.pt.sha256``)."""
    path = Path(path)
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(checksum_path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataError(f"The checksum record {str(checksum_path(path))!r} of {str(path)!r} is unreadable ({exc}); "
                        "the file cannot be trusted. Restore both from a backup, or delete them to start "
                        "over.") from None
    if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
        raise DataError(f"The checksum record {str(checksum_path(path))!r} of {str(path)!r} is damaged; the file "
                        "cannot be trusted. Restore both from a backup, or delete them to start over.")
    return record


def write_checked(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with its SHA-256 in the sidecar (see the module docstring)."""
    path = Path(path)
    try:
        old = _read_sidecar(path) if path.exists() else None
    except DataError:
        old = None  # a damaged record of a file about to be replaced: nothing to keep
    record = {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
              "previous": None if old is None else old["sha256"]}  # the file still in place until the replace
    atomic_write_text(checksum_path(path), json.dumps(record, indent=1) + "\n")
    atomic_write_bytes(path, data)


def verify_file(path: str | os.PathLike[str], what: str, data: bytes | None = None) -> None:
    """Raise DataError when ``path`` (or its bytes ``data``, already read) does not match its recorded SHA-256.

    A file without a sidecar (written before vaetk recorded checksums) is not checked.
    """
    path = Path(path)
    record = _read_sidecar(path)
    if record is None:
        return
    if data is None:
        data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest not in (record["sha256"], record.get("previous")):
        raise DataError(
            f"{what} {str(path)!r} does not match the SHA-256 recorded when it was written "
            f"({str(checksum_path(path))!r}): it was modified or damaged on disk, and loading it would give other "
            "values than the run wrote. Restore it from a backup, or delete it and its .sha256 record (a run "
            "directory's checkpoint: the run then starts over with --resume; model files: train again)."
        )


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save`` to ``path`` atomically, with its checksum recorded (:func:`write_checked`)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    write_checked(path, buf.getvalue())


def read_json(path: str | os.PathLike[str], what: str) -> Any:
    """Read a JSON file, with a DataError naming ``what`` when it is missing, corrupted, or does not match the
    checksum recorded beside it (:func:`write_checked`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        verify_file(path, what, data)
        return json.loads(data.decode("utf-8"))
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{what} {str(path)!r} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{what} {str(path)!r} is unreadable or corrupted: {exc}") from None


def torch_load(path: str | os.PathLike[str], what: str, *, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with a DataError naming ``what`` when missing or corrupted."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} {str(path)!r} does not exist.")
    data = path.read_bytes()
    try:
        obj = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated / foreign files
        raise DataError(f"{what} {str(path)!r} is corrupted or not a vaetk file ({type(exc).__name__}: {exc}). "
                        "Delete it to start over, or restore it from a backup.") from None
    verify_file(path, what, data)  # damage that still loads (a flipped byte in a weight) is caught here
    return obj


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


# -- the run-directory lock ----------------------------------------------------------------------------------
def _owner(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


@contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Own the run directory ``run_dir`` while training into it (created if missing; removed again if it was
    created here and is left empty).

    The lock file ``.vaetk-lock`` records pid, host and start time; it is written whole and linked into place
    (atomic, never empty). A lock whose process is dead on this host is taken over, by one process only when
    several find it at once (:func:`vaetk._locks.take_over_if_stale`).

    Raises
    ------
    DataError
        Another live process (or a process on another host) trains into ``run_dir``.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise DataError(f"--out {str(run_dir)!r} is a file, not a run directory.")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = run_dir / LOCK
    me = owner_record()
    tmp = temporary_path(lock)
    tmp.write_text(json.dumps(me), encoding="utf-8")
    try:
        for _ in range(3):
            try:
                os.link(tmp, lock)  # atomic: fails when a lock exists
                break
            except FileExistsError:
                try:
                    owner = json.loads(lock.read_text(encoding="utf-8"))
                except FileNotFoundError:
                    continue  # released meanwhile
                except (OSError, ValueError):
                    owner = None
                if is_stale(owner, me):  # its process was killed
                    take_over_if_stale(lock, lambda content: is_stale(_owner(content), me),
                                       lambda: lock.unlink(missing_ok=True))
                    continue
                raise DataError(
                    f"The run directory {str(run_dir)!r} is in use by {describe_owner(owner)}: two trainings "
                    f"cannot write one run. Wait for it to finish, or, if that process is dead, delete "
                    f"{str(lock)!r} and run again with --resume.") from None
        else:
            raise DataError(f"Could not lock the run directory {str(run_dir)!r} (its lock {str(lock)!r} keeps "
                            "changing hands); run again.")
    finally:
        tmp.unlink(missing_ok=True)
    try:
        yield me
    finally:
        lock.unlink(missing_ok=True)
        if created:
            try:
                run_dir.rmdir()  # only when empty: a run refused before writing anything leaves no folder
            except OSError:
                pass
