"""`vaetk._executors`: one way to run tasks in this process, a local pool or on Dask (used by dataset
generation and sweeps; the Dask paths are exercised through them in tests/data and tests/analysis)."""

from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from vaetk._executors import check_scheduler, describe_scheduler, run_tasks
from vaetk.errors import ConfigError


def square_or_fail(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * x


def test_in_this_process_when_one_process_worker() -> None:
    main = threading.get_ident()
    assert list(run_tasks(lambda x: (x, threading.get_ident() == main), [1, 2])) == [(1, (1, True)), (2, (2, True))]


@pytest.mark.parametrize("workers", [1, 3])
def test_thread_pool_yields_every_task_with_its_result(workers: int) -> None:
    pairs = list(run_tasks(square_or_fail, range(6), workers=workers, pool="threads"))
    assert sorted(pairs) == [(x, x * x) for x in range(6)]


@pytest.mark.parametrize("pool", ["processes", "threads"])  # one worker: this process, or one thread
def test_a_failing_task_raises_or_is_returned(pool: str) -> None:
    with pytest.raises(ValueError, match="negative: -1"):
        list(run_tasks(square_or_fail, [2, -1, 3], pool=pool))
    pairs = dict(run_tasks(square_or_fail, [2, -1, 3], pool=pool, return_exceptions=True))
    assert pairs[2] == 4 and pairs[3] == 9 and isinstance(pairs[-1], ValueError)


def test_a_given_executor_is_used_and_left_running() -> None:
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        assert sorted(run_tasks(square_or_fail, [1, 2], scheduler=pool)) == [(1, 1), (2, 4)]
        assert pool.submit(square_or_fail, 3).result() == 9


@pytest.mark.parametrize("scheduler", [None, "local", "tcp://127.0.0.1:8786", "127.0.0.1:8786"])
def test_accepted_schedulers(scheduler: object) -> None:
    check_scheduler(scheduler)
    assert describe_scheduler(scheduler)


@pytest.mark.parametrize("scheduler", ["dask", "ray", "", 8786])
def test_unknown_schedulers_are_refused_before_any_work(scheduler: object) -> None:
    with pytest.raises(ConfigError, match="Unknown scheduler"):
        next(run_tasks(square_or_fail, [1], scheduler=scheduler))
    with pytest.raises(ConfigError, match="pool 'fibers'"):
        next(run_tasks(square_or_fail, [1], pool="fibers"))  # type: ignore[arg-type]


def test_two_local_clusters_at_once_do_not_clash() -> None:
    """Each local cluster's dashboard takes a free port (a fixed 8787 made the second one warn, and fail here,
    where warnings are errors)."""
    from vaetk._executors import start_local_cluster

    first = start_local_cluster(1)
    try:
        second = start_local_cluster(1)
        second[1]()
    finally:
        first[1]()
