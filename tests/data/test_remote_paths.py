"""Stores on a cluster (issue 15): the output path is made absolute before any task is shipped, and a worker that
cannot see the store says so (instead of a misleading disk-space hint)."""

from __future__ import annotations

import concurrent.futures as cf
from pathlib import Path

import numpy as np
import pytest

from vaetk.data import _generate as gen
from vaetk.data import generate, open_store
from vaetk.errors import DataError


class RecordingExecutor(cf.ThreadPoolExecutor):
    """Runs tasks in threads, recording what was shipped (as a remote scheduler would receive it)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.roots: list[str] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.roots.append(args[0].root)
        return super().submit(fn, *args, **kwargs)


def test_relative_out_is_shipped_absolute(tmp_path: Path, small_config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with RecordingExecutor() as executor:
        info = generate(small_config(train=4, test=0), "rel.zarr", seed=1, shard_size=2, scheduler=executor)
    assert executor.roots and all(root == str(tmp_path / "rel.zarr") for root in executor.roots)
    assert info.path == tmp_path / "rel.zarr" and open_store(tmp_path / "rel.zarr").complete


def test_worker_that_cannot_see_the_store_says_so(tmp_path: Path) -> None:
    task = gen.ShardTask(str(tmp_path / "elsewhere.zarr"), "train", 0, 0, 2, 1, {"n": 9}, np.ones(2),
                         np.zeros((2, 9, 9)), None)
    with pytest.raises(DataError, match=r"cannot see the store .*elsewhere\.zarr.*same absolute path") as err:
        gen.run_shard(task)
    assert "disk" not in str(err.value)



def test_real_worker_in_another_directory(tmp_path: Path, small_config, monkeypatch: pytest.MonkeyPatch,
                                          worker_elsewhere: str) -> None:
    """A Dask worker process started in another working directory writes the store the client named, relative
    path and all (shipped relative, the worker said it cannot see 'rel.zarr')."""
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    generate(small_config(train=4, test=2), "rel.zarr", seed=1, shard_size=2, scheduler=worker_elsewhere)
    assert open_store(tmp_path / "here" / "rel.zarr").complete
    assert not (tmp_path / "elsewhere" / "rel.zarr").exists()
