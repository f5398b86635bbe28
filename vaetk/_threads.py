"""The single place where thread counts are resolved (scikit-learn's rules).

``None`` honours ``OMP_NUM_THREADS`` when set and otherwise uses every CPU this process may run on; a negative
value means "all but ``|n + 1|``" (``-1`` is all); ``0`` is an error; a build without OpenMP always uses 1.
A count above 4x the available CPUs (argument or ``OMP_NUM_THREADS``) is an error naming the value and where it
came from: OpenMP runtimes crash (segfault) when asked for absurd team sizes. Every kernel passes the resolved
count in a ``num_threads`` clause, so the runtime's own reading of ``OMP_NUM_THREADS`` is never used.
"""

from __future__ import annotations

import functools
import os

from vaetk._validation import is_int
from vaetk.errors import ConfigError

__all__ = ["OVERSUBSCRIPTION", "available_cpus", "effective_n_threads", "max_threads"]


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


OVERSUBSCRIPTION = 4  # at most this many threads per available CPU: more is a mistake, and enough can crash


def max_threads() -> int:
    """The largest thread count accepted: ``OVERSUBSCRIPTION`` x the available CPUs."""
    return OVERSUBSCRIPTION * available_cpus()


def _out_of_range(value: object, source: str, cpus: int) -> ConfigError:
    return ConfigError(
        f"{source} ({value!r}) is out of range: this process may run on {cpus} CPU(s), so the thread count must "
        f"be between 1 and {OVERSUBSCRIPTION * cpus} ({OVERSUBSCRIPTION}x the available CPUs)"
        + ("; unset it to use every CPU." if "OMP_NUM_THREADS" in source else
           ", or negative for 'all CPUs but |n + 1|' (-1: all), or None for the default.")
    )


def _from_environment(cpus: int) -> int | None:
    raw = os.environ.get("OMP_NUM_THREADS")
    if raw is None or not raw.strip():
        return None
    first = raw.split(",")[0].strip()  # "4,2" sets nested levels; the outer one is ours
    if not first.isdigit() or int(first) < 1:
        raise ConfigError(
            f"The environment variable OMP_NUM_THREADS ({raw!r}) is not a positive thread count. Set it to an "
            f"integer between 1 and {OVERSUBSCRIPTION * cpus} (this process may run on {cpus} CPU(s)), or unset "
            "it to use every CPU."
        )
    if int(first) > OVERSUBSCRIPTION * cpus:
        raise _out_of_range(int(first), "The environment variable OMP_NUM_THREADS", cpus)
    return int(first)


def effective_n_threads(n_threads: int | None = None, *, source: str = "n_threads") -> int:
    """Resolve ``n_threads`` to a concrete positive thread count for a kernel call.

    Parameters
    ----------
    n_threads : int or None
        ``None``: ``OMP_NUM_THREADS`` if set, else all available CPUs. Positive: that many, up to
        ``OVERSUBSCRIPTION`` (4) x the available CPUs (so a caller can oversubscribe on purpose, but not by
        orders of magnitude, which makes the OpenMP runtime crash). Negative: all available CPUs but
        ``|n_threads + 1|`` (at least 1).
    source : str
        Where the value came from, for messages: ``"n_threads"`` (a Python argument), ``"--threads"``, ...

    Returns
    -------
    int
        At least 1; always 1 when vaetk was built without OpenMP.

    Raises
    ------
    ConfigError
        If ``n_threads`` is 0, not an integer or above the limit, or ``OMP_NUM_THREADS`` (used when
        ``n_threads`` is None) is not a positive integer or above the limit. The message names the value, where
        it came from and the allowed range.
    """
    what = f"The {source!r} parameter" if source.isidentifier() else f"The {source} option"
    if n_threads is not None and not is_int(n_threads, allow_numpy=True):
        raise ConfigError(f"{what} must be an int or None. Got {n_threads!r} instead.")
    if n_threads == 0:
        raise ConfigError(
            f"{what} must not be 0. Use None for the default, a positive count, or -1 for all CPUs."
        )
    cpus = available_cpus()
    if n_threads is not None and n_threads > OVERSUBSCRIPTION * cpus:
        raise _out_of_range(int(n_threads), what, cpus)
    env = _from_environment(cpus) if n_threads is None else None
    if not _openmp_enabled():
        return 1
    if n_threads is None:
        return env if env is not None else cpus
    if n_threads < 0:
        return max(1, cpus + 1 + int(n_threads))
    return int(n_threads)
