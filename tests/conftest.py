"""Shared fixtures and the report header (what build was actually tested)."""

from __future__ import annotations

import zlib

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
