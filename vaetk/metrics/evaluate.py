"""Run a metric by name or class, with an optional bootstrap interval and a record of how it was computed."""

from __future__ import annotations

import dataclasses
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from vaetk._validation import is_int
from vaetk.errors import ConfigError
from vaetk.metrics._validation import as_samples
from vaetk.metrics.base import Metric

__all__ = ["MetricResult", "evaluate_metric", "library_versions"]


@dataclass(frozen=True)
class MetricResult:
    """Scores of one metric on one set of latents, with provenance.

    Attributes
    ----------
    name : str
        Registry name (or class name for an unregistered class).
    scores : dict of str to float
        The metric's scores on all samples (headline first).
    intervals : dict of str to (float, float)
        Bootstrap confidence interval of every score (empty when ``n_bootstrap == 0``).
    confidence : float
        Coverage of the intervals.
    n_bootstrap : int
        Bootstrap replicates used.
    bootstrap_method : str
        "resample" (percentile bootstrap) or "subsample" (half-size subsampling, rescaled; see evaluate_metric).
    seed : int
        Root seed of every random choice.
    config : dict
        The metric's resolved configuration.
    versions : dict of str to str
        Library versions (python, numpy, scipy, vaetk, and the plugin's distribution).
    """

    name: str
    scores: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    confidence: float = 0.95
    n_bootstrap: int = 0
    bootstrap_method: str = "resample"
    seed: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The headline score."""
        return next(iter(self.scores.values()))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        out = dataclasses.asdict(self)
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        return out


def library_versions(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Versions of the libraries a metric result depends on."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("scipy", "vaetk"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:  # pragma: no cover - uninstalled tree
            versions[dist] = "unknown"
    versions.update(extra or {})
    return versions


def _resolve(name_or_cls: str | type[Metric]) -> tuple[str, type[Metric], dict[str, str]]:
    if isinstance(name_or_cls, str):
        from vaetk.registry import registry

        group = registry.group("metrics")
        cls = group.get(name_or_cls)
        info = group.info(name_or_cls)
        return name_or_cls, cls, {info.distribution: info.version} if info.version else {}
    if isinstance(name_or_cls, type) and issubclass(name_or_cls, Metric):
        return name_or_cls.__name__, name_or_cls, {}
    raise ConfigError(f"evaluate_metric: expected a metric name or a Metric subclass, got {name_or_cls!r}.")


def evaluate_metric(
    name_or_cls: str | type[Metric],
    latents: Any,
    factors: Any,
    *,
    config: Any = None,
    seed: int = 0,
    n_bootstrap: int = 0,
    confidence: float = 0.95,
) -> MetricResult:
    """Score ``latents`` against ``factors`` with one metric, optionally with a bootstrap interval.

    Parameters
    ----------
    name_or_cls : str or Metric subclass
        Registry name (``"sd"``, ``"skl"``, ...) or a class.
    latents, factors : array_like, shapes (n, d_z) and (n, s)
        Latent codes and generative factors of the same samples.
    config : Config or mapping, optional
        The metric's Config, or a mapping parsed strictly into it (unknown keys are errors).
    seed : int
        Root seed: the metric's own generator and each replicate's generator are derived from it with
        ``numpy.random.SeedSequence``, so results do not depend on anything else.
    n_bootstrap : int
        Number of replicates (0: no interval). The metric's ``bootstrap_method`` decides how they are drawn:
        "resample" draws n rows with replacement and reports percentile intervals; "subsample" (metrics that
        cannot take duplicate rows, e.g. k-NN estimators) draws b = n // 2 distinct rows and reports the
        subsampling interval theta_hat - sqrt(b / n) * (quantiles of theta_b - theta_hat) (Politis & Romano
        1994), which corrects for the smaller sample.
    confidence : float
        Interval coverage in (0, 1).

    Returns
    -------
    MetricResult
    """
    name, cls, plugin_versions = _resolve(name_or_cls)
    cfg = cls.make_config(config, path=f"metrics.{name}")
    if not is_int(n_bootstrap, 0):
        raise ConfigError(f"n_bootstrap: expected a non-negative integer, got {n_bootstrap!r}.")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: expected a value in (0, 1), got {confidence!r}.")
    z = as_samples(latents, "latents")
    theta = as_samples(factors, "factors")
    metric = cls(cfg)
    root = np.random.SeedSequence(seed)
    main_seq, boot_seq = root.spawn(2)
    scores = metric(z, theta, np.random.default_rng(main_seq))
    intervals: dict[str, tuple[float, float]] = {}
    if n_bootstrap:
        n = z.shape[0]
        b = n // 2 if cls.bootstrap_method == "subsample" else n
        keys = [k for k in scores if cls.interval_keys is None or k in cls.interval_keys]
        reps: dict[str, list[float]] = {k: [] for k in keys}
        for child in boot_seq.spawn(n_bootstrap):
            rng = np.random.default_rng(child)
            rows = rng.choice(n, size=b, replace=cls.bootstrap_method == "resample")
            rep = metric(z[rows], theta[rows], rng)
            for k in reps:
                reps[k].append(rep[k])
        alpha = (1.0 - confidence) / 2.0
        for k, values in reps.items():
            lo, hi = np.quantile(np.asarray(values), [alpha, 1.0 - alpha])
            if cls.bootstrap_method == "subsample":
                shrink = np.sqrt(b / n)
                lo, hi = scores[k] - shrink * (hi - scores[k]), scores[k] - shrink * (lo - scores[k])
            intervals[k] = (float(lo), float(hi))
    return MetricResult(
        name=name, scores=scores, intervals=intervals, confidence=confidence, n_bootstrap=n_bootstrap,
        bootstrap_method=cls.bootstrap_method, seed=seed, config=dataclasses.asdict(cfg),
        versions=library_versions(plugin_versions),
    )
