"""Export a store to HDF5: the authors' layout (one split per file, for their training code) or a PDEBench-style
layout (every split, compressed, with coordinates, for neural-operator codes).

Authors' layout: ``/output`` (N, 3, H, W) float32 fields [p, u_x, u_y], ``/generative_params`` (N, s) float64
theta, ``/permeability`` (N, 1, H, W) float32; file attributes record the split, seed and the store's config.

PDEBench-style layout (as PDEBench's 2-D Darcy files, one file per split, ``<prefix>_<split>.hdf5``):
``/nu`` (N, H, W) float32 permeability (the coefficient), ``/tensor`` (N, 3, H, W) float32 solution [p, u_x, u_y]
(PDEBench's Darcy files hold one channel; the channel names are in its attributes), ``/x-coordinate`` and
``/y-coordinate`` (n,) node coordinates, ``/t-coordinate`` ``[0.0]`` (a steady problem), and ``/theta`` (N, s)
float64, which PDEBench's loaders ignore and vaetk reads back. Arrays are [sample, (channel,) y, x], gzip level 4
with shuffle; file attributes record the split, seed, config and source store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vaetk.data._store import open_store, read_shard
from vaetk.errors import DataError

__all__ = ["export_hdf5", "export_pdebench"]


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


def export_pdebench(
    store: str | os.PathLike[str],
    prefix: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Write every split of a complete store as ``<prefix>_<split>.hdf5`` in the PDEBench-style layout.

    Parameters
    ----------
    store : path-like
        A complete ``DIR.zarr`` store.
    prefix : path-like
        Path prefix of the files (``out/darcy`` gives ``out/darcy_train.hdf5`` and ``out/darcy_test.hdf5``).
    overwrite : bool
        Replace existing files. Without it nothing is written when any of the files exists.

    Returns
    -------
    list of Path
        The files written, one per split.
    """
    import h5py
    import numpy as np

    from vaetk.data._generate import FIELD_ATTRS

    info = open_store(store, require_complete=True)
    outs = {split: Path(f"{prefix}_{split}.hdf5") for split in info.splits}
    existing = [str(p) for p in outs.values() if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{', '.join(map(repr, existing))} already exist(s); pass --overwrite (overwrite=True) to "
                        "replace. Nothing was written.")
    n, s = int(info.attrs["config"]["n"]), int(info.attrs["config"]["n_modes"])
    gzip = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
    written: list[Path] = []
    for split, out in outs.items():
        group, n_samples = info.split_group(split), info.splits[split]
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(tmp, "w") as h5:
                chunk = min(n_samples, int(group.attrs["shard_size"]))
                tensor = h5.create_dataset("tensor", (n_samples, 3, n, n), dtype="float32",
                                           chunks=(chunk, 3, n, n), **gzip)
                nu = h5.create_dataset("nu", (n_samples, n, n), dtype="float32", chunks=(chunk, n, n), **gzip)
                theta = h5.create_dataset("theta", (n_samples, s), dtype="float64", chunks=(chunk, s), **gzip)
                for k in range(int(group.attrs["n_shards"])):
                    arrays = read_shard(info, split, k)
                    start = k * int(group.attrs["shard_size"])
                    stop = start + len(arrays["theta"])
                    tensor[start:stop], nu[start:stop], theta[start:stop] = (
                        arrays["fields"], arrays["permeability"], arrays["theta"])
                for axis in ("x", "y"):
                    h5.create_dataset(f"{axis}-coordinate", data=np.linspace(0.0, 1.0, n))
                h5.create_dataset("t-coordinate", data=np.zeros(1))
                tensor.attrs.update({k: json.dumps(v) if isinstance(v, list) else v for k, v in FIELD_ATTRS.items()})
                tensor.attrs["dims"] = "sample, channel, y, x"
                nu.attrs["dims"] = "sample, y, x"
                theta.attrs["dims"] = "sample, factor"
                h5.attrs["vaetk_layout"] = "pdebench"
                h5.attrs["vaetk_split"] = split
                h5.attrs["vaetk_seed"] = str(info.attrs["seed"])
                h5.attrs["vaetk_config"] = json.dumps(info.attrs["config"], sort_keys=True)
                h5.attrs["vaetk_source_store"] = str(info.path)
            os.replace(tmp, out)
            written.append(out)
        except DataError as exc:  # a damaged shard (read_shard verifies): no file of a damaged store is left
            for path in written:
                path.unlink(missing_ok=True)
            raise DataError(f"{exc} No file was exported.") from None
        except OSError as exc:
            raise DataError(f"Cannot write {str(out)!r}: {exc}. The files of earlier splits were written; "
                            "nothing half-written is left.") from exc
        finally:
            tmp.unlink(missing_ok=True)
    return list(outs.values())
