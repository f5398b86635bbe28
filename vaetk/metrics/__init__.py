"""Disentanglement metrics and the k-NN KL-divergence estimator.

Importing this package is light (numpy only): the estimator, the metric base class and the evaluation helper
are imported on first attribute access, and the metric plugins only through the registry.

- :func:`knn_kl_divergence`: Wang-Kulkarni-Verdu k-NN estimate of D(P || Q) from samples (C++ core).
- :class:`Metric`: base class of the ``vaetk.metrics`` plugin group (``sd``, ``skl``, ``mig``, ``dci``, ...).
- :func:`evaluate_metric`: run a metric by name, with a bootstrap interval and provenance.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Metric", "MetricResult", "evaluate_metric", "knn_distances", "knn_kl_divergence"]

_LAZY = {
    "Metric": "vaetk.metrics.base",
    "MetricResult": "vaetk.metrics.evaluate",
    "evaluate_metric": "vaetk.metrics.evaluate",
    "knn_distances": "vaetk.metrics.knn",
    "knn_kl_divergence": "vaetk.metrics.knn",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vaetk.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
