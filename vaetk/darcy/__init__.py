"""Darcy flow in porous media: KLE permeability fields, solves, and dataset generation.

Grid convention (everywhere in vaetk): an ``n x n`` grid of *nodes* on the unit square, spacing
``h = 1 / (n - 1)``. Arrays are indexed ``[..., row, col]`` with row <-> y and col <-> x: node ``(row i, col j)``
sits at ``(x = j h, y = i h)``. Velocity channels are ``[p, u_x, u_y]``.

Names are imported lazily from their submodules so that ``import vaetk.darcy`` stays cheap.
"""

from __future__ import annotations

from vaetk._lazy import lazy_exports

_EXPORTS = {
    # KLE permeability
    "KLEBasis": "vaetk.darcy._kle",
    "kle_basis": "vaetk.darcy._kle",
    # sources, assembly, solve
    "paper_source": "vaetk.darcy._sources",
    "trapezoid_weights": "vaetk.darcy._sources",
    "solve": "vaetk.darcy._solve",
    "SCHEMES": "vaetk.darcy._solve",
    # dataset generation and stores
    "generate": "vaetk.darcy._generate",
    "GenerationConfig": "vaetk.darcy._generate",
    "describe_store": "vaetk.darcy._store",
    "open_store": "vaetk.darcy._store",
    "export_hdf5": "vaetk.darcy._export",
    "DarcyDataset": "vaetk.darcy._dataset",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
