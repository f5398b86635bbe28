"""Training analyses (paper sections 4-5): loss landscape, rate-distortion plane, latent rotation, posteriors;
and the sensitivity geometry of a dataset generator (no training).

Each analysis is a function returning plain results (NumPy arrays in frozen dataclasses) plus a ``plot_*``
function returning a matplotlib figure; ``vaetk analyze`` writes both to disk.
"""

from __future__ import annotations

from vaetk.analysis._params import interpolate, random_direction, shift, xavier_uniform_init
from vaetk.analysis.landscape import (
    LineResult,
    init_to_trained_lines,
    loss_along_line,
    plot_lines,
    random_direction_lines,
)
from vaetk.analysis.posterior import (
    PosteriorView,
    aggregated_posterior,
    plot_latent_factor_grid,
    plot_posterior_comparison,
    posterior_view,
)
from vaetk.analysis.rd import RDPoints, plot_rd_plane, rd_points, read_trajectory
from vaetk.analysis.rotation import (
    RotationResult,
    plot_rotation,
    rotated_regularization,
    rotation_matrix,
    rotation_scan,
)
from vaetk.analysis.sensitivity import (
    SensitivityResult,
    bootstrap_angles,
    darcy_generator,
    darcy_sensitivity,
    plot_sensitivity,
    sensitivity_matrix,
)
from vaetk.models._evaluate import BATCHNORM_MODES, dataset_losses, encoder_means, prepared_for_eval

__all__ = [
    "BATCHNORM_MODES",
    "LineResult",
    "PosteriorView",
    "RDPoints",
    "RotationResult",
    "SensitivityResult",
    "aggregated_posterior",
    "bootstrap_angles",
    "darcy_generator",
    "darcy_sensitivity",
    "dataset_losses",
    "encoder_means",
    "init_to_trained_lines",
    "interpolate",
    "loss_along_line",
    "plot_latent_factor_grid",
    "plot_lines",
    "plot_posterior_comparison",
    "plot_rd_plane",
    "plot_rotation",
    "plot_sensitivity",
    "posterior_view",
    "prepared_for_eval",
    "random_direction",
    "random_direction_lines",
    "rd_points",
    "read_trajectory",
    "rotated_regularization",
    "rotation_matrix",
    "rotation_scan",
    "sensitivity_matrix",
    "shift",
    "xavier_uniform_init",
]
