"""Disentanglement metrics and the k-NN KL-divergence estimator.

Importing this package is light (numpy only): the estimator, the metric base class and the evaluation helper
are imported on first attribute access, and the metric plugins only through the registry.

- :func:`knn_kl_divergence`: Wang-Kulkarni-Verdu k-NN estimate of D(P || Q) from samples (C++ core);
  :func:`wkv_terms` and :class:`WkvFixedX` for repeated evaluations on prepared arrays.
- :func:`ksg_mi`: Kraskov-Stoegbauer-Grassberger mutual information (total correlation) of scalar variables, and
  :func:`ksg_ceiling`, its value for two variables related by a strictly monotone map.
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
    "wkv_terms": "vaetk.metrics.knn",
    "WkvFixedX": "vaetk.metrics.knn",
    "KLTerms": "vaetk.metrics.knn",
    "ksg_ceiling": "vaetk.metrics._mi",
    "ksg_mi": "vaetk.metrics._mi",
})
