"""Run one sweep trial in its own process: ``python -m vaetk.sweeps._worker --trial MOD:ATTR --record-dir R RUN_DIR``.

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vaetk.sweeps._worker")
    parser.add_argument("--trial", required=True)
    parser.add_argument("--record-dir", type=Path, required=True)
    parser.add_argument("--parent", type=int, default=None, help="pid of the sweep process")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv)
    rec = args.record_dir
    if args.parent is not None:
        _die_with_parent(args.parent)
    try:
        config = json.loads((rec / CONFIG_FILE).read_text())
        func = resolve_trial(args.trial)
        result = plain_result(func(config, args.run_dir), args.trial)
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, then reported by exit status
        atomic_write_json(rec / ERROR_FILE, {
            "type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc(),
        })
        traceback.print_exc()
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    atomic_write_json(rec / RESULT_FILE, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
