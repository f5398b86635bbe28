"""A torch Dataset over a Darcy store (Zarr) or an HDF5 file (the authors' layout or vaetk's PDEBench-style export)."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vaetk.errors import DataError

__all__ = ["DarcyDataset", "available_splits"]

# (fields, theta) dataset names of the HDF5 layouts read: the authors' and vaetk's PDEBench-style export
_HDF5_LAYOUTS = {"authors'": ("output", "generative_params"), "PDEBench-style": ("tensor", "theta")}


def _load_hdf5(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            layout = next((keys for keys in _HDF5_LAYOUTS.values() if all(k in h5 for k in keys)), None)
            if layout is None:
                raise DataError(
                    f"{str(path)!r} is not a Darcy HDF5 file vaetk reads: expected /output (N, C, H, W) and "
                    "/generative_params (N, s) (the authors' layout) or /tensor and /theta (`vaetk export "
                    f"pdebench`); it holds {', '.join('/' + k for k in h5) or 'nothing'}."
                )
            stored_split = h5.attrs.get("vaetk_split")
            if stored_split is not None and stored_split != split:
                raise DataError(f"{str(path)!r} holds the {stored_split!r} split, not {split!r}.")
            fields, theta = np.asarray(h5[layout[0]], dtype=np.float32), np.asarray(h5[layout[1]])
    except OSError as exc:
        raise DataError(f"Cannot read {str(path)!r} as HDF5: {exc}.") from None
    if fields.ndim != 4 or theta.ndim != 2 or len(theta) != len(fields):
        raise DataError(
            f"{str(path)!r}: the fields must be (N, C, H, W) and theta (N, s) with the same N; got "
            f"{fields.shape} and {theta.shape}."
        )
    return fields, theta


def available_splits(path: str | os.PathLike[str]) -> list[str] | None:
    """The split names a dataset holds: a store's splits, the one split an exported HDF5 file records, or None
    for an HDF5 file that does not say (the authors' files: one unnamed split)."""
    path = Path(path)
    if path.is_dir():
        from vaetk.data._store import open_store

        return list(open_store(path, require_complete=True).splits)
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            split = h5.attrs.get("vaetk_split")
    except OSError as exc:
        raise DataError(f"Cannot read {str(path)!r} as HDF5: {exc}.") from None
    return None if split is None else [str(split)]


def _load_store(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    from vaetk.data._store import open_store, read_split

    data = read_split(open_store(path, require_complete=True), split, ("fields", "theta"))
    return data["fields"], data["theta"]


class _ShardReader:
    """The fields of a store split read shard by shard (each checked against its checksums when read), keeping
    the ``cache_shards`` most recently used shards in memory."""

    def __init__(self, path: Path, split: str, cache_shards: int) -> None:
        from vaetk.data._store import open_store

        if cache_shards < 1:
            raise DataError(f"cache_shards must be >= 1, got {cache_shards}.")
        self.info = open_store(path, require_complete=True)
        group = self.info.split_group(split)
        self.split, self.cache_shards = split, cache_shards
        self.shard_size = int(group.attrs["shard_size"])
        self.n_samples = int(self.info.splits[split])
        self.sample_shape = tuple(group["fields"].shape[1:])
        self.theta = np.asarray(group["theta"][...])  # small; checked with its shard's fields when that is read
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def fields(self, index: int) -> np.ndarray:
        from vaetk.data._store import read_shard

        shard, offset = divmod(index, self.shard_size)
        if shard in self._cache:
            self._cache.move_to_end(shard)
        else:
            self._cache[shard] = read_shard(self.info, self.split, shard)["fields"]
            while len(self._cache) > self.cache_shards:
                self._cache.popitem(last=False)
        return self._cache[shard][offset]


class DarcyDataset(Dataset):
    """Darcy fields as a map-style torch Dataset, in memory or streamed from a store.

    Parameters
    ----------
    path : path-like
        A dataset store (``DIR.zarr``) or an HDF5 file: the authors' layout (``/output``, ``/generative_params``)
        or ``vaetk export pdebench``'s (``/tensor``, ``/theta``). Any number of field channels.
    split : str
        Split of a store ("train" or "test"); an HDF5 file written by ``vaetk export`` must hold that split.
    return_theta : bool
        Items are ``(fields, theta)`` instead of ``fields``.
    in_memory : bool
        Load every sample now (default). ``False`` (stores only) keeps theta in memory and reads the fields shard
        by shard when they are indexed, holding at most ``cache_shards`` shards: for data larger than memory
        (the :class:`~vaetk.training.Trainer` takes such a dataset directly). Random access touches a shard per
        sample, so a shuffled epoch reads each shard about ``batch_size`` times unless the cache holds them all.
    cache_shards : int
        Shards kept in memory when streaming.

    Items are float32 tensors of shape (C, H, W) (and float64 theta of shape (s,)).
    """

    def __init__(
        self, path: str | os.PathLike[str], split: str = "train", *, return_theta: bool = False,
        in_memory: bool = True, cache_shards: int = 8,
    ) -> None:
        self.path = Path(path)
        self.split = split
        self.return_theta = return_theta
        self._reader: _ShardReader | None = None
        self.fields: torch.Tensor | None = None
        if not self.path.exists():
            raise DataError(f"No dataset at {str(self.path)!r} (expected a DIR.zarr store or an HDF5 file).")
        if not in_memory:
            if not self.path.is_dir():
                raise DataError(f"{str(self.path)!r}: streaming (in_memory=False) reads dataset stores (DIR.zarr); "
                                "HDF5 files are loaded into memory.")
            self._reader = _ShardReader(self.path, split, cache_shards)
            self.theta = torch.from_numpy(np.ascontiguousarray(self._reader.theta))
            return
        if self.path.is_dir():
            fields, theta = _load_store(self.path, split)
        else:
            fields, theta = _load_hdf5(self.path, split)
        self.fields = torch.from_numpy(np.ascontiguousarray(fields, dtype=np.float32))
        self.theta = torch.from_numpy(np.ascontiguousarray(theta))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(C, H, W) of one sample."""
        return self._reader.sample_shape if self._reader is not None else tuple(self.fields.shape[1:])

    def __len__(self) -> int:
        return len(self.theta)

    def __getitem__(self, index: int) -> Any:
        if self._reader is not None:
            fields = torch.from_numpy(np.asarray(self._reader.fields(int(index)), dtype=np.float32))
        else:
            fields = self.fields[index]
        return (fields, self.theta[index]) if self.return_theta else fields

    def __repr__(self) -> str:
        mode = "" if self._reader is None else ", streamed"
        return (f"DarcyDataset({str(self.path)!r}, split={self.split!r}, n={len(self)}, shape={self.sample_shape}"
                f"{mode})")
