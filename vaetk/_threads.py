"""The single place where thread counts are resolved (scikit-learn's rules).

``None`` honours ``OMP_NUM_THREADS`` when set and otherwise uses every CPU this process may run on; a negative
value means "all but ``|n + 1|``" (``-1`` is all); ``0`` is an error; a build without OpenMP always uses 1.
"""

from __future__ import annotations

import functools
import os

from vaetk._validation import is_int
from vaetk.errors import ConfigError

__all__ = ["available_cpus", "effective_n_threads"]


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks and, through them, most container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _openmp_enabled() -> bool:
    from vaetk._build import core

    return bool(core().build_info()["openmp"])


def effective_n_threads(n_threads: int | None = None) -> int:
    """Resolve ``n_threads`` to a concrete positive thread count for a kernel call.

    Parameters
    ----------
    n_threads : int or None
        ``None``: ``OMP_NUM_THREADS`` if set, else all available CPUs. Positive: that many (not capped, so a
        caller can oversubscribe on purpose). Negative: all available CPUs but ``|n_threads + 1|``.

    Returns
    -------
    int
        At least 1; always 1 when vaetk was built without OpenMP.

    Raises
    ------
    ConfigError
        If ``n_threads`` is 0 or not an integer.
    """
    if n_threads is not None and not is_int(n_threads, allow_numpy=True):
        raise ConfigError(f"The 'n_threads' parameter must be an int or None. Got {n_threads!r} instead.")
    if n_threads == 0:
        raise ConfigError(
            "The 'n_threads' parameter must not be 0. Use None for the default, a positive count, "
            "or -1 for all CPUs."
        )
    if not _openmp_enabled():
        return 1
    cpus = available_cpus()
    if n_threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if env.isdigit() and int(env) > 0:
            return int(env)
        return cpus
    if n_threads < 0:
        return max(1, cpus + 1 + int(n_threads))
    return int(n_threads)
