"""Memory checks before large allocations: say how much is needed and how much there is, instead of being killed.

The estimates are lower bounds (measured: the native solver's peak is about 250 bytes per grid node for the first
sample of a batch and 160 for each further one, with one thread), so a job refused here would not have fit; a job
accepted may still need more.
"""

from __future__ import annotations

import os
from pathlib import Path

from vaetk.errors import ConfigError

__all__ = ["available_memory", "check_memory", "darcy_solve_bytes", "format_bytes"]

# Lower bounds per grid node, in bytes: K, source, 3 output fields and the solver's own vectors per sample.
_PER_NODE_FIRST = 200
_PER_NODE_MORE = 128


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _cgroup_limit() -> int | None:
    """Memory left under this process's cgroup (v2 or v1) limit, or None when there is none."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            raw = Path(limit_file).read_text().strip()
            if raw == "max":
                return None
            limit, usage = int(raw), int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit >= 1 << 60:  # "no limit" in cgroup v1
            return None
        return max(0, limit - usage)
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping (MemAvailable, capped by a cgroup limit), or None
    when it cannot be told (non-Linux)."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    cgroup = _cgroup_limit()
    if cgroup is not None:
        found.append(cgroup)
    address_space = _address_space_left()
    if address_space is not None:
        found.append(address_space)
    return min(found) if found else None


def _address_space_left() -> int | None:
    """What an address-space limit (``ulimit -v``) leaves this process, or None without one."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, soft - int(line.split()[1]) * 1024)
        return soft
    except (ImportError, OSError, ValueError, IndexError):
        return None


def darcy_solve_bytes(n: int, batch: int, n_modes: int = 0) -> int:
    """A lower bound on the memory of solving ``batch`` Darcy problems on an n x n grid (plus a KLE basis of
    ``n_modes`` modes when it is built too)."""
    nodes = n * n
    return nodes * (_PER_NODE_FIRST + _PER_NODE_MORE * max(0, batch - 1) + 8 * n_modes)


def check_memory(needed: int, what: str, hint: str = "") -> None:
    """Raise ConfigError when ``needed`` bytes exceed the available memory (no-op when that is unknown).

    Parameters
    ----------
    needed : int
        Bytes the job needs at least.
    what : str
        The job, for the message ("solving 2 samples on a 20001 x 20001 grid").
    hint : str
        What to change, appended to the message.
    """
    available = available_memory()
    if available is None or needed <= available:
        return
    raise ConfigError(
        f"{what} needs at least {format_bytes(needed)} of memory, but only {format_bytes(available)} is available"
        f" on this machine; nothing was allocated.{' ' + hint if hint else ''}"
    )
