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
