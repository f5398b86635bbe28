"""The per-epoch disentanglement score: S_D through the ``sd`` metric plugin when installed, else vaetk's own."""

from __future__ import annotations

import numpy as np

from vaetk.training._sd import disentanglement_score

__all__ = ["epoch_sd"]


def epoch_sd(latents: np.ndarray, factors: np.ndarray) -> float:
    """S_D (eq. 6) of encoder means against the generative parameters, for the per-epoch log."""
    return disentanglement_score(latents, factors)
