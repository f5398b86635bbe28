"""Datasets of solved fields: generation into sharded Zarr stores, the store format, HDF5 export, a torch Dataset.

This package sits on top of :mod:`vaetk.darcy`, the physics (KLE permeability, wells, discretisation, solvers):
a shard task draws theta, builds the permeability and calls :func:`vaetk.darcy.solve`, and everything after the
solve (shards, completion flags, checksums, locks, export, reading back) lives here. ``vaetk.data`` imports
``vaetk.darcy``, never the reverse.

Names are imported lazily from their submodules so that ``import vaetk.data`` stays cheap.
"""

from __future__ import annotations

from vaetk._lazy import lazy_exports

_EXPORTS = {
    # generation
    "generate": "vaetk.data._generate",
    "GenerationConfig": "vaetk.data._generate",
    # stores
    "describe_store": "vaetk.data._store",
    "open_store": "vaetk.data._store",
    # export and reading
    "export_hdf5": "vaetk.data._export",
    "export_pdebench": "vaetk.data._export",
    "DarcyDataset": "vaetk.data._dataset",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
