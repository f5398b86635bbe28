"""Run one sweep trial in its own process: ``python -m vaetk.sweeps._worker --trial MOD:ATTR --record-dir R RUN_DIR``.

With ``--ensemble --record-dir R1 --record-dir R2 ... RUN_DIR1 RUN_DIR2 ...`` the trials run together through the
trial function's ``ensemble`` attribute (``vaetk sweep --ensemble K``), each still with its own result or error
file.

Every trial runs in a fresh interpreter so a crash (segfault, out-of-memory kill, ``os._exit``) ends only that
trial, its exit status is known exactly, and thread settings cannot leak between trials. The trial function is
called as ``func(config, run_dir)`` with the experiment read from ``R/trial_config.json``; it returns a mapping
of scalar results, written to ``R/trial_result.json``. An exception writes ``R/trial_error.json`` (type,
message, traceback) and exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import numbers
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vaetk._atomic import atomic_write_json
from vaetk.errors import ConfigError

CONFIG_FILE = "trial_config.json"
RESULT_FILE = "trial_result.json"
ERROR_FILE = "trial_error.json"


def resolve_trial(ref: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``; errors name the reference and what was expected."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"trial {ref!r}: expected 'package.module:function'.")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"trial {ref!r}: cannot import module {module_name!r} ({exc}).") from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"trial {ref!r}: module {module_name!r} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"trial {ref!r}: {attr!r} is not callable.")
    return obj


def plain_result(result: Any, ref: str) -> dict[str, Any]:
    """Check a trial's return value: a mapping of str -> number/bool/str (JSON-safe; nan/inf kept as strings)."""
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise TypeError(f"trial {ref!r} must return a mapping of scalar results, got {type(result).__name__}.")
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, bool | str):
            out[str(key)] = value
        elif isinstance(value, numbers.Real):
            value = float(value) if not isinstance(value, numbers.Integral) else int(value)
            out[str(key)] = value if math.isfinite(value) else repr(float(value))
        else:
            raise TypeError(f"trial {ref!r}: result {key!r} = {value!r} is not a number, bool or string.")
    return out



def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send SIGTERM to this trial when the sweep process dies (no orphaned trials)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the sweep died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def ensemble_function(ref: str) -> Callable[..., Any]:
    """The ensemble form of trial ``ref``: its ``ensemble`` attribute, ``func(configs, run_dirs) -> list`` of
    result mappings or exceptions, one per trial (see :func:`vaetk.sweeps.trials.train_and_evaluate_ensemble`)."""
    func = getattr(resolve_trial(ref), "ensemble", None)
    if not callable(func):
        raise ConfigError(f"trial {ref!r} cannot run trials as an ensemble (it has no 'ensemble' function); "
                          "use --ensemble 1.")
    return func


def _record_error(rec: Path, exc: BaseException, tb: str) -> None:
    atomic_write_json(rec / ERROR_FILE, {"type": type(exc).__name__, "message": str(exc), "traceback": tb})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vaetk.sweeps._worker")
    parser.add_argument("--trial", required=True)
    parser.add_argument("--record-dir", type=Path, required=True, action="append",
                        help="the trial's record directory (one per run directory with --ensemble)")
    parser.add_argument("--parent", type=int, default=None, help="pid of the sweep process")
    parser.add_argument("--ensemble", action="store_true",
                        help="run the trials (run directories, in the order of the record directories) as one "
                             "ensemble with the trial's ensemble function")
    parser.add_argument("run_dir", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if len(args.record_dir) != len(args.run_dir) or (len(args.run_dir) > 1 and not args.ensemble):
        parser.error("give one --record-dir per run directory, and several only with --ensemble")
    if args.parent is not None:
        _die_with_parent(args.parent)
    if args.ensemble:
        return _main_ensemble(args.trial, args.record_dir, args.run_dir)
    rec = args.record_dir[0]
    try:
        config = json.loads((rec / CONFIG_FILE).read_text())
        func = resolve_trial(args.trial)
        result = plain_result(func(config, args.run_dir[0]), args.trial)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then reported by exit status
        _record_error(rec, exc, traceback.format_exc())
        traceback.print_exc()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    atomic_write_json(rec / RESULT_FILE, result)
    return 0


def _main_ensemble(ref: str, records: list[Path], run_dirs: list[Path]) -> int:
    """Every trial's result or error file, from one call of the ensemble function; exit status 1 if any failed."""
    try:
        configs = [json.loads((rec / CONFIG_FILE).read_text()) for rec in records]
        outcomes = ensemble_function(ref)(configs, run_dirs)
        if len(outcomes) != len(records):
            raise TypeError(f"the ensemble function of trial {ref!r} returned {len(outcomes)} results for "
                            f"{len(records)} trials.")
    except BaseException as exc:  # noqa: BLE001 - the whole group failed: recorded for every trial
        tb = traceback.format_exc()
        for rec in records:
            _record_error(rec, exc, tb)
        traceback.print_exc()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    status = 0
    for rec, run_dir, outcome in zip(records, run_dirs, outcomes, strict=True):
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            atomic_write_json(rec / RESULT_FILE, plain_result(outcome, ref))
        except Exception as exc:  # noqa: BLE001
            tb = "".join(traceback.format_exception(exc))
            _record_error(rec, exc, tb)
            print(f"trial {run_dir.name} failed:\n{tb}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
