"""The owner records of vaetk's exclusive locks (a store's writer lock, a run directory's lock): who holds a lock,
whether that holder is gone, and how to name it in a message."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: takeovers are not serialised
    fcntl = None  # type: ignore[assignment]


def owner_record() -> dict[str, Any]:
    """This process as a lock owner: pid, host and start time."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def is_stale(owner: Any, me: dict[str, Any]) -> bool:
    """Whether a lock held by ``owner`` may be taken over: its process, on this host, is dead."""
    return isinstance(owner, dict) and owner.get("host") == me["host"] and not pid_alive(int(owner.get("pid", -1)))


def describe_owner(owner: Any) -> str:
    return (f"process {owner.get('pid')} on host {owner.get('host')} (since {owner.get('started')})"
            if isinstance(owner, dict) and owner else "another process")


def take_over_if_stale(owner_file: Path, stale: Callable[[bytes], bool], remove: Callable[[], None]) -> None:
    """Remove a lock whose owner is gone, at most once however many processes try at the same instant.

    Without this, two processes that both found the lock stale could both remove it, and the slower one would
    remove the lock the faster one had just taken. Here the check and the removal happen under an exclusive flock
    on the lock's owner file (released by the kernel when its holder dies, so it cannot go stale itself), and
    only while ``owner_file`` is still the file that was locked and its contents (``stale``) still name a gone
    owner.
    """
    try:
        fd = os.open(owner_file, os.O_RDONLY)
    except OSError:
        return  # released or taken over meanwhile: the caller tries again
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(owner_file).st_ino == os.fstat(fd).st_ino
        except OSError:
            same = False
        with os.fdopen(os.dup(fd), "rb") as fh:
            content = fh.read()
        if same and stale(content):
            remove()
    finally:
        os.close(fd)
