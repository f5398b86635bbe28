"""Two processes that find the same dead lock at the same instant: exactly one takes it over (vaetk._locks)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from vaetk.data import _store
from vaetk.errors import DataError
from vaetk.training import _files


def _dead_owner() -> dict[str, Any]:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return {"pid": proc.pid, "host": socket.gethostname(), "started": "2024-01-01T00:00:00"}


def _run_dir(tmp_path: Path) -> tuple[Any, Callable[[], AbstractContextManager[Any]], str]:
    run = tmp_path / "run"
    run.mkdir()
    (run / _files.LOCK).write_text(json.dumps(_dead_owner()))
    return _files, lambda: _files.run_lock(run), "is in use by"


def _store_dir(tmp_path: Path) -> tuple[Any, Callable[[], AbstractContextManager[Any]], str]:
    root = tmp_path / "s.zarr"
    lock = root / "_vaetk" / "lock"
    lock.mkdir(parents=True)
    (lock / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group",
                                                "attributes": {"owner": _dead_owner()}}))
    return _store, lambda: _store.writer_lock(root), "is being written by"


@pytest.mark.parametrize("make", [_run_dir, _store_dir], ids=["run_directory", "store"])
def test_simultaneous_takeovers_leave_one_owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                make: Callable[..., Any]) -> None:
    module, lock, refusal = make(tmp_path)
    real = module.take_over_if_stale
    b_judged, a_holds, release = threading.Event(), threading.Event(), threading.Event()

    def late(*args: Any) -> None:  # B found the lock stale, and A takes it over before B acts on that
        if threading.current_thread().name == "B":
            b_judged.set()
            assert a_holds.wait(30)
        real(*args)

    monkeypatch.setattr(module, "take_over_if_stale", late)
    results: dict[str, str] = {}

    def worker() -> None:
        name = threading.current_thread().name
        try:
            with lock():
                results[name] = "locked"
                if name == "A":
                    a_holds.set()
                    release.wait(30)
        except DataError as exc:
            results[name] = str(exc)

    threads = {name: threading.Thread(target=worker, name=name) for name in ("B", "A")}
    threads["B"].start()
    assert b_judged.wait(30)
    threads["A"].start()
    assert a_holds.wait(30)
    threads["B"].join(30)
    release.set()
    threads["A"].join(30)
    assert results["A"] == "locked"
    assert refusal in results["B"]  # B did not remove A's fresh lock
