"""Darcy flow in porous media: KLE permeability fields, the wells, the discretisations and their solves.

Grid convention (everywhere in vaetk): an ``n x n`` grid of *nodes* on the unit square, spacing
``h = 1 / (n - 1)``. Arrays are indexed ``[..., row, col]`` with row <-> y and col <-> x: node ``(row i, col j)``
sits at ``(x = j h, y = i h)``. Velocity channels are ``[p, u_x, u_y]``.

Datasets (generation, stores, export, the torch Dataset) live in :mod:`vaetk.data`, which builds on this
package; no module here imports it. Its names are still reachable from here (``from vaetk.darcy import
generate`` keeps working), resolved lazily like every other name.

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
    "UntrustedSolutionWarning": "vaetk.darcy._solve",
}

# Names that moved to vaetk.data, kept reachable from their old home (same objects, loaded only when used).
_MOVED_TO_DATA = {
    "generate": "vaetk.data._generate",
    "GenerationConfig": "vaetk.data._generate",
    "describe_store": "vaetk.data._store",
    "open_store": "vaetk.data._store",
    "export_hdf5": "vaetk.data._export",
    "DarcyDataset": "vaetk.data._dataset",
}

__all__, __getattr__, __dir__ = lazy_exports(__name__, {**_EXPORTS, **_MOVED_TO_DATA})
