"""Export a store split to the authors' HDF5 layout (interoperability with their training code).

Layout: ``/output`` (N, 3, H, W) float32 fields [p, u_x, u_y], ``/generative_params`` (N, s) float64 theta,
``/permeability`` (N, 1, H, W) float32; file attributes record the split, seed and the store's config.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vaetk.data._store import open_store, read_shard
from vaetk.errors import DataError

__all__ = ["export_hdf5"]


def export_hdf5(
    store: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: str = "train",
    overwrite: bool = False,
) -> Path:
    """Write one split of a complete store as an HDF5 file in the authors' layout.

    Parameters
    ----------
    store : path-like
        A complete ``DIR.zarr`` store.
    out : path-like
        The HDF5 file to write (written to a temporary name, then renamed: never left half-written).
    split : str
        Which split ("train" or "test").
    overwrite : bool
        Replace ``out`` if it exists.

    Returns
    -------
    Path
        ``out``.
    """
    import h5py

    info = open_store(store, require_complete=True)
    group = info.split_group(split)
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(f"{str(out)!r} already exists; pass --overwrite (overwrite=True) to replace it.")
    n_samples, n_shards = info.splits[split], int(group.attrs["n_shards"])
    n, s = int(info.attrs["config"]["n"]), int(info.attrs["config"]["n_modes"])
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with h5py.File(tmp, "w") as h5:
            output = h5.create_dataset("output", (n_samples, 3, n, n), dtype="float32")
            params = h5.create_dataset("generative_params", (n_samples, s), dtype="float64")
            perm = h5.create_dataset("permeability", (n_samples, 1, n, n), dtype="float32")
            for k in range(n_shards):
                arrays = read_shard(info, split, k)
                start = k * int(group.attrs["shard_size"])
                stop = start + len(arrays["theta"])
                output[start:stop] = arrays["fields"]
                params[start:stop] = arrays["theta"]
                perm[start:stop, 0] = arrays["permeability"]
            h5.attrs["vaetk_split"] = split
            h5.attrs["vaetk_seed"] = str(info.attrs["seed"])
            h5.attrs["vaetk_config"] = json.dumps(info.attrs["config"], sort_keys=True)
            h5.attrs["vaetk_source_store"] = str(info.path)
        os.replace(tmp, out)
    except OSError as exc:
        raise DataError(f"Cannot write {str(out)!r}: {exc}. Nothing was written there.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out
