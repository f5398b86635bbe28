"""Shared fixtures and the report header (what build was actually tested)."""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    from vaetk.cli.info import environment_lines

    return environment_lines()


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A Generator seeded from the test's name, so every test is reproducible and the seed is shown on failure."""
    seed = zlib.crc32(request.node.nodeid.encode())
    request.node.user_properties.append(("rng_seed", seed))
    return np.random.default_rng(seed)


EXAMPLE_PLUGIN = Path(__file__).parents[1] / "plugins" / "example"


@pytest.fixture
def example_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The third-party example plugin package presented as installed, through a hand-made dist-info (no pip)."""
    from vaetk.registry import registry

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures" / "example_dist"))
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN / "src"))
    registry.priors.refresh()
    yield
    monkeypatch.undo()
    for name in [m for m in sys.modules if m.startswith("vaetk_example_mog")]:
        del sys.modules[name]
    registry.priors.refresh()


@pytest.fixture
def worker_elsewhere(tmp_path: Path) -> Iterator[str]:
    """The address of a Dask scheduler whose one worker is a separate process started in another working
    directory (tmp_path / "elsewhere"), as on a cluster."""
    import subprocess

    from distributed import Client, LocalCluster

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=":0") as cluster:  # the scheduler only
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--nworkers", "1", "--nthreads", "1", "--no-dashboard"], cwd=elsewhere,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with Client(cluster.scheduler_address) as client:
                client.wait_for_workers(1, timeout=120)
            yield cluster.scheduler_address
        finally:
            worker.terminate()
            worker.wait(60)
