"""The owner records of vaetk's exclusive locks (a store's writer lock, a run directory's lock): who holds a lock,
whether that holder is gone, and how to name it in a message."""

from __future__ import annotations

import os
import socket
import time
from typing import Any


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
