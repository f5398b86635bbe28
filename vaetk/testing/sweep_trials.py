"""Tiny, fast trial functions for testing sweep machinery (local pools, Dask clusters) without training.

Use them as ``vaetk sweep EXPERIMENT.toml --trial vaetk.testing.sweep_trials:line_fit`` to check that a
cluster can run vaetk trials before launching real training.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["line_fit"]


def line_fit(config: Mapping[str, Any], run_dir: Path) -> dict[str, float]:
    """Fit a line to seeded noisy samples of ``y = slope * x``; return the fitted slope and residual.

    Config keys: ``training.seed`` (required, set by the sweep), ``slope`` (1.0), ``n`` (32), ``noise`` (0.1),
    ``fail_seed`` (a seed that raises RuntimeError, for testing failure records), ``exit_seed`` (a seed whose
    process exits with status 3 without a Python exception), ``sleep`` (seconds to wait first). Writes
    ``fit.json`` into ``run_dir``, as a real run writes its report.
    """
    seed = int(config["training"]["seed"])
    if seed == config.get("fail_seed"):
        raise RuntimeError(f"line_fit: seed {seed} was asked to fail (fail_seed)")
    if seed == config.get("exit_seed"):
        os._exit(3)
    if config.get("sleep"):
        time.sleep(float(config["sleep"]))
    rng = np.random.default_rng(seed)
    n = int(config.get("n", 32))
    x = rng.uniform(-1.0, 1.0, n)
    y = float(config.get("slope", 1.0)) * x + float(config.get("noise", 0.1)) * rng.standard_normal(n)
    slope = float(x @ y / (x @ x))
    residual = float(np.mean((y - slope * x) ** 2))
    result = {"slope": slope, "residual": residual}
    (Path(run_dir) / "fit.json").write_text(json.dumps(result))
    return result
