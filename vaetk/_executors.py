"""Where tasks run: in this process, a local pool, or a Dask distributed cluster.

Every parallel job of vaetk (a dataset's shard tasks, a sweep's trials) runs through :func:`run_tasks`, which
runs the same task function on the same task objects wherever they go, and is sized with the same three words:

``workers``
    Tasks running at once: the size of the local pool, or of a LocalCluster started for the run.
``threads``
    Threads each task may use. Not set here: the caller passes them inside its tasks (a solve's ``n_threads``, a
    trial's thread environment), so a result does not depend on where its task ran.
``scheduler``
    Where the tasks go: ``None``, a local pool of ``workers`` (no Dask); ``"local"``, a Dask LocalCluster of
    ``workers`` single-threaded worker processes on loopback, started for this run and closed after it; an
    address such as ``"tcp://10.0.0.5:8786"``, the Dask scheduler there (its workers must see the tasks' files
    at the same paths: the same machine or a shared file system); a ``distributed.Client`` (left open); a
    ``concurrent.futures.Executor`` (left running).

The local pool runs tasks in spawn-context processes (in this very process when ``workers`` is 1), or in threads
for tasks that only start and wait on a process of their own. Tasks and their function must be picklable (a
module-level function) for every scheduler but the thread pool and this process.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from vaetk.errors import ConfigError

__all__ = ["LOCAL_CLUSTER", "check_scheduler", "describe_scheduler", "die_with_parent", "run_tasks",
           "start_local_cluster"]

LOCAL_CLUSTER = "local"
POOLS = ("processes", "threads")


def die_with_parent(parent: int, poll_s: float = 1.0) -> None:
    """Make this (worker) process exit when ``parent`` dies: a pool initializer, so that a parent killed with
    SIGKILL (or any death that runs no cleanup) leaves no orphaned workers behind (issue 15).

    Linux: the kernel sends SIGKILL when the parent exits (``prctl(PR_SET_PDEATHSIG)``; the pool is created and
    shut down by one thread, the one the request is tied to). Everywhere: a daemon thread also polls
    ``os.getppid()`` every ``poll_s`` seconds and exits the process when it no longer names ``parent``. A worker
    killed mid-shard leaves that shard unflagged, so a resume redoes it.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="vaetk-die-with-parent", daemon=True).start()


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While a local pool runs, SIGTERM raises SystemExit(143) in the main thread (if it has the default action),
    so the pool is shut down as after Ctrl-C (tasks not started are cancelled, running ones finish, locks are
    released) instead of the process vanishing; the workers also die with it (:func:`die_with_parent`)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _result(future: Any, return_exceptions: bool) -> Any:
    try:
        return future.result()
    except Exception as exc:
        if not return_exceptions:
            raise
        return exc


def _sequential(fn: Callable[[Any], Any], tasks: Sequence[Any], return_exceptions: bool
                ) -> Iterator[tuple[Any, Any]]:
    for task in tasks:
        try:
            result = fn(task)
        except Exception as exc:
            if not return_exceptions:
                raise
            result = exc
        yield task, result


def _pool(fn: Callable[[Any], Any], tasks: Sequence[Any], pool: cf.Executor, own: bool, return_exceptions: bool
          ) -> Iterator[tuple[Any, Any]]:
    futures: dict[cf.Future[Any], Any] = {}
    try:  # submitting inside: an interrupt or SIGTERM while thousands of tasks are queued still shuts down
        for task in tasks:
            futures[pool.submit(fn, task)] = task
        for future in cf.as_completed(futures):
            yield futures[future], _result(future, return_exceptions)
    finally:
        for future in futures:
            future.cancel()
        if own:  # wait for running tasks, so nothing writes after the caller moves on
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            cf.wait(list(futures))


def _dask(fn: Callable[[Any], Any], tasks: Sequence[Any], client: Any, keys: Sequence[str],
          return_exceptions: bool) -> Iterator[tuple[Any, Any]]:
    import distributed

    futures = {client.submit(fn, task, key=key, pure=False): task for task, key in zip(tasks, keys, strict=True)}
    try:
        for future in distributed.as_completed(list(futures), loop=client.loop):
            yield futures[future], _result(future, return_exceptions)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # after a failure or an interrupt; a task already running finishes (data first, flag last)
            client.cancel(pending)


def _dask_client(scheduler: Any, n_workers: int) -> tuple[Any, Callable[[], None]]:
    """A distributed Client (and how to release it): the given one, one at an address, or a new LocalCluster
    with ``n_workers`` single-threaded worker processes."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(f"scheduler={scheduler!r} needs dask.distributed: pip install 'vaetk[dask]'.") from None
    if _is_client(scheduler):
        return scheduler, lambda: None
    if scheduler != LOCAL_CLUSTER:  # a scheduler address
        client = distributed.Client(scheduler, set_as_default=False)
        return client, client.close
    return start_local_cluster(n_workers)


def start_local_cluster(n_workers: int) -> tuple[Any, Callable[[], None]]:
    """A Dask LocalCluster of ``n_workers`` single-threaded worker processes, a Client to it, and its closer.

    The scheduler listens on loopback only. Tasks are long and bring their own threads (GIL-free solves, trial
    processes): one thread per worker avoids oversubscribing the cores. The cluster's own CPU use is cut down, as
    it competes with the tasks: the workers' statistical profiler is off (it samples the task thread every 10 ms:
    measured ~20% extra CPU per shard task on a loaded 2-core machine, ~7% without), and the event-loop, system
    and memory monitors tick less often (an idle 2-worker cluster used 0.078 CPU s per s with the defaults, about
    0.015 with these).

    Returns
    -------
    client : distributed.Client
        Not set as the default client.
    close : callable
        Closes the client, then the cluster.
    """
    import dask
    import distributed

    quiet = {
        "distributed.worker.profile.enabled": False,
        "distributed.admin.tick.interval": "1s",  # blocked-event-loop warnings still fire (limit: 3 s)
        "distributed.admin.system-monitor.interval": "2s",  # dashboard resolution only
        "distributed.worker.memory.monitor-interval": "500ms",  # spill/pause/restart checks
    }
    with dask.config.set(quiet):  # the nannies pass this configuration on to their workers
        # the dashboard on a free port: None still takes 8787, so a second cluster (another vaetk run, a user's
        # own) would clash with it
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        )
    client = distributed.Client(cluster, set_as_default=False)

    def close() -> None:
        client.close()
        cluster.close()

    return client, close


def _is_client(scheduler: Any) -> bool:
    # Recognised without importing distributed (which takes a second).
    return type(scheduler).__name__ == "Client" and hasattr(scheduler, "submit")


def check_scheduler(scheduler: Any) -> None:
    """Raise ConfigError now (before any work) for a scheduler run_tasks would not accept.

    Parameters
    ----------
    scheduler : None, "local", str, distributed.Client or concurrent.futures.Executor
        See the module docstring; an address is any string with a colon.

    Raises
    ------
    ConfigError
        For anything else, naming what is accepted.
    """
    if (
        scheduler is None
        or isinstance(scheduler, (str, cf.Executor))
        and (scheduler == LOCAL_CLUSTER or isinstance(scheduler, cf.Executor) or ":" in scheduler)
    ):
        return
    if _is_client(scheduler):
        return
    raise ConfigError(
        f"Unknown scheduler {scheduler!r}. Use None (a local pool), 'local' (a Dask LocalCluster on this "
        f"machine), a scheduler address such as 'tcp://127.0.0.1:8786', a distributed.Client or a "
        f"concurrent.futures.Executor."
    )


def describe_scheduler(scheduler: Any) -> str:
    """A few words naming where tasks run (for progress bars)."""
    if scheduler is None:
        return "local"
    if isinstance(scheduler, str):
        return "dask LocalCluster" if scheduler == LOCAL_CLUSTER else f"dask scheduler {scheduler}"
    return type(scheduler).__name__


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    scheduler: Any = None,
    workers: int = 1,
    pool: Literal["processes", "threads"] = "processes",
    keys: Sequence[str] | None = None,
    return_exceptions: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """Run ``fn(task)`` for every task and yield ``(task, result)`` pairs as the tasks complete.

    Leaving the loop early (an exception, an interrupt) cancels the tasks not yet started and, for a pool started
    here, waits for the running ones before shutting it down.

    Parameters
    ----------
    fn : callable
        The task function; module-level (picklable) unless it runs in this process or on threads.
    tasks : sequence
        The task objects (picklable, likewise).
    scheduler : None, "local", str, distributed.Client or concurrent.futures.Executor
        Where the tasks run (see the module docstring).
    workers : int
        Tasks at once in the local pool, or worker processes of a LocalCluster started here.
    pool : {"processes", "threads"}
        The local pool when ``scheduler`` is None: spawn-context processes (this process when ``workers`` is 1),
        or threads.
    keys : sequence of str, optional
        Dask task keys, one per task (readable names in the dashboard; unique per run).
    return_exceptions : bool
        Yield a task's exception as its result instead of raising it (the other tasks go on).

    Yields
    ------
    tuple
        ``(task, result)``, in completion order.

    Raises
    ------
    ConfigError
        An unknown scheduler or pool, or Dask asked for but not installed.
    """
    check_scheduler(scheduler)
    if pool not in POOLS:
        raise ConfigError(f"pool {pool!r}: expected one of {', '.join(POOLS)}.")
    if scheduler is None:
        if pool == "threads":
            threads = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vaetk-task")
            yield from _pool(fn, tasks, threads, True, return_exceptions)
            return
        if workers == 1:
            yield from _sequential(fn, tasks, return_exceptions)
            return
        processes = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=die_with_parent, initargs=(os.getpid(),))
        with _sigterm_raises():
            yield from _pool(fn, tasks, processes, True, return_exceptions)
        return
    if isinstance(scheduler, cf.Executor):
        yield from _pool(fn, tasks, scheduler, False, return_exceptions)
        return
    client, close = _dask_client(scheduler, workers)
    try:
        yield from _dask(fn, tasks, client, keys or [f"vaetk-task-{i}" for i in range(len(tasks))], return_exceptions)
    finally:
        close()
