"""A torch Dataset over a Darcy store (Zarr) or an HDF5 file in the authors' layout."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vaetk.errors import DataError

__all__ = ["DarcyDataset"]

_HDF5_KEYS = ("output", "generative_params", "permeability")


def _load_hdf5(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            missing = [k for k in _HDF5_KEYS[:2] if k not in h5]
            if missing:
                raise DataError(
                    f"{str(path)!r} is not a Darcy HDF5 file in the authors' layout: missing "
                    f"dataset(s) {', '.join('/' + m for m in missing)} (expected /output (N, 3, H, W) "
                    f"and /generative_params (N, s))."
                )
            stored_split = h5.attrs.get("vaetk_split")
            if stored_split is not None and stored_split != split:
                raise DataError(f"{str(path)!r} holds the {stored_split!r} split, not {split!r}.")
            fields, theta = np.asarray(h5["output"], dtype=np.float32), np.asarray(h5["generative_params"])
    except OSError as exc:
        raise DataError(f"Cannot read {str(path)!r} as HDF5: {exc}.") from None
    if fields.ndim != 4 or fields.shape[1] != 3 or theta.ndim != 2 or len(theta) != len(fields):
        raise DataError(
            f"{str(path)!r}: /output must be (N, 3, H, W) and /generative_params (N, s); got "
            f"{fields.shape} and {theta.shape}."
        )
    return fields, theta


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
        A dataset store (``DIR.zarr``) or an HDF5 file with ``/output`` and ``/generative_params``.
    split : str
        Split of a store ("train" or "test"); an HDF5 file written by ``vaetk export`` must hold that split.
    return_theta : bool
        Items are ``(fields, theta)`` instead of ``fields``.

    Items are float32 tensors of shape (3, H, W) (and float64 theta of shape (s,)).
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
