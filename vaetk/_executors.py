"""Where shard tasks run: in this process, a local process pool, or a Dask distributed cluster.

Every executor runs the same picklable task function on the same task objects; the tasks write their own
shards, so the store does not depend on which executor ran them or in which order they finished.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from vaetk.errors import ConfigError

__all__ = ["run_tasks", "start_local_cluster"]


def _sequential(fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
    for task in tasks:
        yield fn(task)


def _pool(fn: Callable[[Any], Any], tasks: Sequence[Any], pool: cf.Executor, own: bool) -> Iterator[Any]:
    futures = [pool.submit(fn, task) for task in tasks]
    try:
        for future in cf.as_completed(futures):
            yield future.result()
    finally:
        for future in futures:
            future.cancel()
        if own:  # wait for running tasks, so nothing writes after the caller releases the store
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            cf.wait(futures)


def _dask(fn: Callable[[Any], Any], tasks: Sequence[Any], client: Any, keys: Sequence[str]) -> Iterator[Any]:
    import distributed

    futures = [client.submit(fn, task, key=key, pure=False) for task, key in zip(tasks, keys, strict=True)]
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            yield future.result()
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # after a failure; a task already running finishes its shard (data first, flag last)
            client.cancel(pending)


def _dask_client(executor: Any, n_workers: int) -> tuple[Any, Callable[[], None]]:
    """A distributed Client (and how to release it): the given one, one at an address, the current default
    client, or a new LocalCluster with ``n_workers`` single-threaded worker processes."""
    try:
        import distributed
    except ImportError:
        raise ConfigError("executor='dask' needs dask.distributed: pip install 'vaetk[dask]'.") from None
    if isinstance(executor, distributed.Client):
        return executor, lambda: None
    if executor != "dask":  # a scheduler address
        client = distributed.Client(executor, set_as_default=False)
        return client, client.close
    try:
        return distributed.get_client(), lambda: None
    except ValueError:  # no client yet: start a local cluster for this run only
        return start_local_cluster(n_workers)


def start_local_cluster(n_workers: int) -> tuple[Any, Callable[[], None]]:
    """A Dask LocalCluster of ``n_workers`` single-threaded worker processes, a Client to it, and its closer.

    Shard tasks are long, GIL-free solves: one thread per worker avoids oversubscribing the cores. The cluster's
    own CPU use is cut down, as it competes with the solves: the workers' statistical profiler is off (it samples
    the task thread every 10 ms: measured ~20% extra CPU per shard task on a loaded 2-core machine, ~7% without),
    and the event-loop, system and memory monitors tick less often (an idle 2-worker cluster used 0.078 CPU s
    per s with the defaults, about 0.015 with these).
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
        cluster = distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = distributed.Client(cluster, set_as_default=False)

    def close() -> None:
        client.close()
        cluster.close()

    return client, close


def check_executor(executor: Any) -> None:
    """Raise ConfigError now (before any work) for an executor run_tasks would not accept."""
    if (
        executor is None
        or isinstance(executor, (str, cf.Executor))
        and (executor in ("local", "dask") or isinstance(executor, cf.Executor) or ":" in executor)
    ):
        return
    if type(executor).__name__ == "Client" and hasattr(executor, "submit"):
        return
    raise ConfigError(
        f"Unknown executor {executor!r}. Use None or 'local' (process pool), 'dask' (a Dask cluster), a "
        f"scheduler address such as 'tcp://127.0.0.1:8786', a distributed.Client or a "
        f"concurrent.futures.Executor."
    )


def describe_executor(executor: Any) -> str:
    if executor is None or executor == "local":
        return "local"
    if isinstance(executor, str):
        return "dask" if executor == "dask" else f"dask scheduler {executor}"
    return type(executor).__name__


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    executor: Any = None,
    n_workers: int = 1,
    keys: Sequence[str] | None = None,
) -> Iterator[Any]:
    """Run ``fn(task)`` for every task and yield the results as they complete.

    Parameters
    ----------
    fn : callable
        A module-level (picklable) function.
    tasks : sequence
        Picklable task objects.
    executor : None, "local", "dask", a scheduler address, a distributed.Client or a
    concurrent.futures.Executor
        None/"local": in this process when ``n_workers == 1``, else a spawn-context process pool.
        "dask": the current default distributed client, or a LocalCluster of ``n_workers`` started for the
        run.
        An address ("tcp://host:8786"): the Dask scheduler there.
    n_workers : int
        Processes for the local pool or a LocalCluster started here.
    keys : sequence of str, optional
        Dask task keys (readable names in the dashboard).
    """
    if executor is None or executor == "local":
        if n_workers == 1:
            yield from _sequential(fn, tasks)
            return
        pool = cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn"))
        yield from _pool(fn, tasks, pool, own=True)
        return
    if isinstance(executor, cf.Executor):
        yield from _pool(fn, tasks, executor, own=False)
        return
    check_executor(executor)
    client, close = _dask_client(executor, n_workers)
    try:
        yield from _dask(fn, tasks, client, keys or [f"vaetk-task-{i}" for i in range(len(tasks))])
    finally:
        close()
