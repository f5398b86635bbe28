"""Metrics during and after training: S_D per epoch, and every configured metric plugin at evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

from vaetk.training._sd import disentanglement_score

__all__ = ["epoch_sd", "run_metrics"]


def epoch_sd(latents: np.ndarray, factors: np.ndarray) -> float:
    """S_D of encoder means against the generative parameters (the per-epoch log's disentanglement score)."""
    return disentanglement_score(latents, factors)


def run_metrics(tables: Any, latents: np.ndarray, factors: np.ndarray, *, seed: int,
                n_bootstrap: int = 0) -> dict[str, dict[str, float]]:
    """Run every configured metric (component tables resolved through the registry) on latents vs factors.

    Returns
    -------
    dict
        ``{metric name: {value name: float}}``.
    """
    from vaetk.config import resolve_component

    results: dict[str, dict[str, float]] = {}
    for i, table in enumerate(tables):
        cls, config = resolve_component("metrics", table, path=f"evaluation.metrics[{i}]")
        metric = cls(config)
        rng = np.random.default_rng(seed)
        values = metric(latents, factors, rng)
        results[table["name"]] = {k: float(v) for k, v in values.items()}
    return results
