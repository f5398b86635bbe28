"""Base class of the ``vaetk.metrics`` plugin group.

A metric scores how well latent codes ``z`` (n, d_z) line up with the known generative factors ``theta`` (n, s)
of the same n samples. It receives plain float64 arrays (already checked: 2-D, finite, same n) and a
``numpy.random.Generator`` for any random choice, and returns a dict of named finite floats; the first key is
the headline score (``primary``).

Which latents to score (encoder means, or samples from the encoder) is the caller's choice: pass that array.
The paper computes S_D on sampled z; vaetk's evaluation pipeline uses encoder means by default.

Writing a metric (the full walk-through is in ``plugins/README.md``)::

    from dataclasses import dataclass
    from vaetk.plugin import Metric, check_param

    class MyMetric(Metric):
        name = "my_metric"
        primary = "my_score"

        @dataclass(frozen=True, kw_only=True)
        class Config:
            k: int = 5

            def __post_init__(self) -> None:
                check_param(self.k >= 1, "k", "an int >= 1", self.k, "metric 'my_metric'")

        def compute(self, latents, factors, rng):
            return {"my_score": ...}

built as ``MyMetric(config)`` (a ``Config``, a table of its fields or None; metrics take no context).
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar, Literal

import numpy as np

from vaetk.errors import ComponentError, DataError
from vaetk.metrics._validation import as_samples
from vaetk.plugin import Plugin

__all__ = ["Metric"]


class Metric(Plugin):
    """A disentanglement metric: ``metric(latents, factors, rng) -> dict[str, float]``.

    Parameters
    ----------
    config : Config or mapping, optional
        The metric's parameters: a ``Config``, a table parsed strictly into one, or None (``Config()``).

    Attributes
    ----------
    primary : str
        Key of the headline score in the returned dict.
    higher_is_better : bool
        Direction of the headline score (S_D: higher; S_KL: lower).
    min_samples : int
        Fewest samples the metric accepts.
    same_dims : bool
        Whether the metric needs as many latent dimensions as factors (S_KL does).
    interval_keys : tuple of str or None
        Scores that get bootstrap intervals (None: every key); bookkeeping entries (counts, chosen
        permutations) are left out.
    bootstrap_method : {"resample", "subsample"}
        How :func:`vaetk.metrics.evaluate_metric` draws bootstrap replicates: "resample" (rows with
        replacement) or "subsample" (half the rows without replacement; for estimators such as k-NN ones that
        cannot accept the exact duplicate rows resampling creates).
    """

    plugin_group: ClassVar[str] = "metrics"
    required_methods: ClassVar[tuple[str, ...]] = ("compute",)
    primary: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = True
    min_samples: ClassVar[int] = 2
    same_dims: ClassVar[bool] = False
    interval_keys: ClassVar[tuple[str, ...] | None] = None
    bootstrap_method: ClassVar[Literal["resample", "subsample"]] = "resample"

    @abc.abstractmethod
    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """Score validated arrays; plugins implement this (see the class docstring)."""
        raise NotImplementedError

    def __call__(self, latents: Any, factors: Any, rng: np.random.Generator | int | None = None
                 ) -> dict[str, float]:
        """Check the inputs, call :meth:`compute` and check its result.

        Parameters
        ----------
        latents : array_like, shape (n, d_z)
            Latent codes of n samples.
        factors : array_like, shape (n, s)
            Generative factors (theta) of the same n samples, row for row.
        rng : numpy.random.Generator or int or None
            Source of every random choice (an int seeds a new Generator; None means seed 0, so that a
            call without a generator is still reproducible).

        Returns
        -------
        dict of str to float
            Named finite scores; ``primary`` first.

        Raises
        ------
        DataError
            Non-finite values, wrong shapes, different sample counts, too few samples.
        """
        z = as_samples(latents, "latents")
        theta = as_samples(factors, "factors")
        if z.shape[0] != theta.shape[0]:
            raise DataError(f"latents has {z.shape[0]} samples but factors has {theta.shape[0]}; they must "
                            "be the same samples, row for row.")
        if z.shape[0] < self.min_samples:
            label = getattr(self, "name", "") or type(self).__name__
            raise DataError(f"metric {label!r}: latents and factors have {z.shape[0]} samples, but at least "
                            f"{self.min_samples} are needed (with fewer, its score is noise, not a measurement).")
        if self.same_dims and z.shape[1] != theta.shape[1]:
            raise DataError(f"{type(self).__name__} needs as many latent dimensions as factors: latents has "
                            f"{z.shape[1]}, factors has {theta.shape[1]}.")
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(0 if rng is None else rng)
        scores = self.compute(z, theta, rng)
        bad = {k: v for k, v in scores.items() if not isinstance(v, float) or not math.isfinite(v)}
        if bad or self.primary not in scores:
            raise ComponentError(f"metric {type(self).__name__} returned invalid scores: {bad or scores} "
                                 f"(expected finite floats including {self.primary!r}).")
        return {self.primary: scores[self.primary], **scores}
