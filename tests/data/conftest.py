"""Small configs and store comparisons shared by the dataset-generation tests (as fixtures returning
functions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vaetk.data import open_store


def _small_config(n: int = 17, train: int = 10, test: int = 6, **overrides: Any) -> dict[str, Any]:
    """A tiny KLE2 dataset (4-mode mixture theta, paper scheme) that generates in well under a second."""
    config: dict[str, Any] = {
        "n": n,
        "n_modes": 2,
        "scheme": "paper",
        "solver": "auto",
        "kle": {"length_scale": 0.1, "variance": 1.0, "mean": 0.0},
        "distribution": {"name": "gaussian_mixture", "preset": "paper_4mode"},
        "split": {"train": train, "test": test},
    }
    config.update(overrides)
    return config


def _store_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every split's arrays, keyed "split/name" (read through zarr, i.e. decoded values)."""
    info = open_store(path, require_complete=True)
    return {
        f"{split}/{name}": info.root[split][name][...]
        for split in info.splits
        for name in ("fields", "theta", "permeability")
    }


def _assert_same_arrays(a: Path, b: Path) -> None:
    """Bit-identical array values (shape, dtype and every byte)."""
    left, right = _store_arrays(a), _store_arrays(b)
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype and left[key].shape == right[key].shape, key
        assert left[key].tobytes() == right[key].tobytes(), f"{key} differs"


def _tree_bytes(path: Path) -> dict[str, bytes]:
    """Every file of a store (metadata, chunks, completion flags) by relative path, except the lock."""
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and "_vaetk/lock" not in str(p.relative_to(path))
    }


@pytest.fixture(scope="session")
def small_config():  # type: ignore[no-untyped-def]
    return _small_config


@pytest.fixture(scope="session")
def store_arrays():  # type: ignore[no-untyped-def]
    return _store_arrays


@pytest.fixture(scope="session")
def assert_same_arrays():  # type: ignore[no-untyped-def]
    return _assert_same_arrays


@pytest.fixture(scope="session")
def tree_bytes():  # type: ignore[no-untyped-def]
    return _tree_bytes
