"""A torch Dataset over a Darcy store (Zarr) or an HDF5 file (the authors' layout or vaetk's PDEBench-style export)."""

from __future__ import annotations

import os
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
    from vaetk.data._store import open_store, read_shard

    info = open_store(path, require_complete=True)
    group = info.split_group(split)
    shards = [read_shard(info, split, k) for k in range(int(group.attrs["n_shards"]))]
    return (np.concatenate([s["fields"] for s in shards]), np.concatenate([s["theta"] for s in shards]))


class DarcyDataset(Dataset):
    """Darcy fields as a map-style torch Dataset, loaded into memory.

    Parameters
    ----------
    path : path-like
        A dataset store (``DIR.zarr``) or an HDF5 file: the authors' layout (``/output``, ``/generative_params``)
        or ``vaetk export pdebench``'s (``/tensor``, ``/theta``). Any number of field channels.
    split : str
        Split of a store ("train" or "test"); an HDF5 file written by ``vaetk export`` must hold that split.
    return_theta : bool
        Items are ``(fields, theta)`` instead of ``fields``.

    Items are float32 tensors of shape (C, H, W) (and float64 theta of shape (s,)).
    """

    def __init__(
        self, path: str | os.PathLike[str], split: str = "train", *, return_theta: bool = False
    ) -> None:
        self.path = Path(path)
        self.split = split
        self.return_theta = return_theta
        if self.path.is_dir():
            fields, theta = _load_store(self.path, split)
        elif self.path.is_file():
            fields, theta = _load_hdf5(self.path, split)
        else:
            raise DataError(f"No dataset at {str(self.path)!r} (expected a DIR.zarr store or an HDF5 file).")
        self.fields = torch.from_numpy(np.ascontiguousarray(fields, dtype=np.float32))
        self.theta = torch.from_numpy(np.ascontiguousarray(theta))

    def __len__(self) -> int:
        return len(self.fields)

    def __getitem__(self, index: int) -> Any:
        if self.return_theta:
            return self.fields[index], self.theta[index]
        return self.fields[index]

    def __repr__(self) -> str:
        shape = tuple(self.fields.shape[1:])
        return f"DarcyDataset({str(self.path)!r}, split={self.split!r}, n={len(self)}, shape={shape})"
