"""vaetk: physical-field datasets, disentangling VAEs and disentanglement metrics, with a C++ core.

Importing vaetk is light: it loads neither torch, nor the CUDA module, nor any plugin. Subpackages:

- :mod:`vaetk.darcy`: KLE permeability fields and Darcy solves (the physics);
- :mod:`vaetk.data`: dataset generation into sharded stores, export and the torch Dataset;
- :mod:`vaetk.metrics`: the k-NN KL estimator and disentanglement metrics;
- :mod:`vaetk.models`, :mod:`vaetk.training`: priors, architectures and the registry-driven trainer;
- :mod:`vaetk.sweeps`, :mod:`vaetk.analysis`: multi-seed sweeps and analyses of trained models;
- :mod:`vaetk.registry`, :mod:`vaetk.testing`: plugins and their contract checks.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from vaetk._build import build_info, has_cuda
from vaetk._threads import effective_n_threads

try:
    __version__ = _metadata.version("vaetk")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["__version__", "build_info", "effective_n_threads", "has_cuda"]
