"""Disentanglement metrics and the k-NN KL-divergence estimator.

Importing this package is light (numpy only): the estimator, the metric base class and the evaluation helper
are imported on first attribute access, and the metric plugins only through the registry.

- :func:`knn_kl_divergence`: Wang-Kulkarni-Verdu k-NN estimate of D(P || Q) from samples (C++ core).
- :class:`Metric`: base class of the ``vaetk.metrics`` plugin group (``sd``, ``skl``, ``mig``, ``dci``, ...).
- :func:`evaluate_metric`: run a metric by name, with a bootstrap interval and provenance.
"""

from __future__ import annotations

from vaetk._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Metric": "vaetk.metrics.base",
    "MetricResult": "vaetk.metrics.evaluate",
    "evaluate_metric": "vaetk.metrics.evaluate",
    "knn_distances": "vaetk.metrics.knn",
    "knn_kl_divergence": "vaetk.metrics.knn",
})
