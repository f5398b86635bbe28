"""Sensitivity geometry of a dataset generator: which directions of theta the data resolves best (no training).

A VAE with a diagonal Gaussian posterior and a Gaussian decoder of per-pixel variance S prefers latent axes
aligned with the principal directions of

    M = E_theta[J(theta)^T S^-1 J(theta)],    J = d fields / d theta  (fields flattened over channels, pixels),

a Fisher-like matrix of the generator. When M's eigenvectors lie on the theta axes, a plain VAE tends to
disentangle; when they are rotated, it does not. :func:`sensitivity_matrix` computes M for any generator by
central differences; :func:`darcy_sensitivity` does it for a vaetk Darcy dataset (store or preset), with S the
variance the decoder's log-variance is initialised to (:func:`vaetk.training.constant_predictor`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaetk.config import check_param
from vaetk.errors import ConfigError, DataError

__all__ = ["SensitivityResult", "bootstrap_angles", "darcy_generator", "darcy_sensitivity", "plot_sensitivity",
           "sensitivity_matrix"]

FieldsOf = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SensitivityResult:
    """M = E[J^T S^-1 J] of a generator and what it says about the latent axes a VAE prefers.

    Attributes
    ----------
    matrix : ndarray of shape (s, s)
        M, float64 (nats per unit theta^2: the Fisher information of one sample under the decoder's noise).
    eigenvalues : ndarray of shape (s,)
        Eigenvalues of M, descending.
    eigenvectors : ndarray of shape (s, s)
        Unit eigenvectors as columns, in the order of ``eigenvalues``; the largest-magnitude entry of each is
        positive.
    angles : ndarray of shape (s,)
        Angle in degrees of each eigenvector from its nearest theta axis, sign-free (in [0, 45] for s = 2).
    eigenvalue_ratio : float
        Largest / smallest eigenvalue (inf when the smallest is <= 0).
    correlation : ndarray of shape (s, s)
        Normalised M, M_ij / sqrt(M_ii M_jj); ``correlation[0, 1]`` is the M correlation of s = 2.
    sd_aligned : float
        S_D of a linear encoder z = eigenvectors^T theta. For s = 2 the closed form for isotropic theta,
        max(|cos w|, |sin w|) / (|cos w| + |sin w|) with w = ``angles[0]``; otherwise ``sd_metric``.
    sd_metric : float
        The ``sd`` metric of that encoder on the drawn thetas (their sample covariance; nan for one theta).
    per_sample : ndarray of shape (N, s, s)
        J^T S^-1 J at each theta (M is their mean).
    thetas : ndarray of shape (N, s)
        Where M was averaged.
    step : float
        Central-difference step.
    info : dict
        Provenance (dataset, grid, where S came from); JSON-ready.
    """

    matrix: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    angles: np.ndarray
    eigenvalue_ratio: float
    correlation: np.ndarray
    sd_aligned: float
    sd_metric: float
    per_sample: np.ndarray
    thetas: np.ndarray
    step: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_thetas(self) -> int:
        return len(self.thetas)

    def to_json(self) -> dict[str, Any]:
        """Every number, as plain lists and floats (a non-finite scalar as the string "inf" or "nan")."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.tolist() if isinstance(value, np.ndarray) else value
        for key in ("eigenvalue_ratio", "sd_aligned", "sd_metric"):
            out[key] = _finite_or_str(out[key])
        out["n_thetas"] = self.n_thetas
        return out


def _finite_or_str(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _check_thetas(thetas: Any) -> np.ndarray:
    arr = np.asarray(thetas, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise DataError(
            f"thetas must have shape (N, s) with N >= 1 samples of s >= 1 parameters; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataError(f"thetas contains NaN or infinite values (first in row {row}).")
    return arr


def _check_variance(variance: Any) -> np.ndarray:
    var = np.asarray(variance, dtype=float)
    if var.size == 0 or not np.all(np.isfinite(var)) or not np.all(var > 0):
        low = var.min() if var.size else "(empty)"
        raise DataError(f"variance must be finite and > 0 everywhere (it is the decoder's S); its minimum is {low}.")
    return var


def _broadcast_variance(var: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    try:
        return np.broadcast_to(var, shape)
    except ValueError:
        raise DataError(
            f"variance of shape {var.shape} does not broadcast to the fields' (C, H, W) = {shape}."
        ) from None


def _eval(fields_of: FieldsOf, thetas: np.ndarray) -> np.ndarray:
    out = np.asarray(fields_of(thetas), dtype=np.float64)
    if out.ndim != 4 or out.shape[0] != len(thetas):
        raise DataError(
            f"fields_of must return shape (N, C, H, W) with N = {len(thetas)} (one field per theta row); got "
            f"shape {out.shape}."
        )
    return out


def _canonical_eig(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, vectors = np.linalg.eigh(matrix)
    values, vectors = values[::-1], vectors[:, ::-1]
    signs = np.sign(vectors[np.argmax(np.abs(vectors), axis=0), np.arange(len(values))])
    return values, vectors * np.where(signs == 0, 1.0, signs)


def _axis_angles(vectors: np.ndarray) -> np.ndarray:
    """Degrees from each column to its nearest axis, from the other components (arccos of the largest would be
    inaccurate near 0)."""
    nearest = np.abs(vectors).argmax(axis=0)
    others = np.where(np.arange(vectors.shape[0])[:, None] == nearest, 0.0, vectors)
    return np.degrees(np.arctan2(np.linalg.norm(others, axis=0), np.abs(vectors).max(axis=0)))


def bootstrap_angles(result: SensitivityResult, *, n_boot: int = 1000, seed: int = 0,
                     level: float = 0.95) -> np.ndarray:
    """Percentile bootstrap interval of each eigenvector's angle from its nearest theta axis.

    The thetas are resampled with replacement (M = the mean of the resampled per-sample matrices); S is held
    fixed, so the interval leaves out the sampling error of S itself. A small eigenvalue ratio makes the angle
    sensitive to noise in the off-diagonal of M: read the interval, not the point estimate.

    Returns
    -------
    ndarray of shape (s, 2)
        Lower and upper bound (degrees) per eigenvector, in the order of ``result.eigenvalues``.
    """
    check_param(isinstance(n_boot, int) and n_boot >= 2, "n_boot", "an int >= 2", n_boot, "bootstrap_angles()")
    check_param(0 < level < 1, "level", "a number in (0, 1)", level, "bootstrap_angles()")
    rng = np.random.default_rng(seed)
    n = len(result.per_sample)
    draws = np.stack([_axis_angles(_canonical_eig(result.per_sample[rng.integers(0, n, n)].mean(axis=0))[1])
                      for _ in range(n_boot)])
    alpha = (1 - level) / 2
    return np.quantile(draws, [alpha, 1 - alpha], axis=0).T


def _sd_metric(thetas: np.ndarray, vectors: np.ndarray) -> float:
    if len(thetas) < 2:
        return float("nan")
    from vaetk.registry import registry

    # compute() directly: the thetas may be an exact design (a few points with the moments of N(0, I)), for which
    # S_D is exact, so the metric's minimum sample count for random samples does not apply.
    metric = registry.metrics.get("sd")()
    return float(metric.compute(np.ascontiguousarray(thetas @ vectors), np.ascontiguousarray(thetas),
                                np.random.default_rng(0))["sd"])


def sensitivity_matrix(fields_of: FieldsOf, thetas: Any, variance: Any, *, step: float = 1e-3,
                       info: Mapping[str, Any] | None = None) -> SensitivityResult:
    """M = mean over ``thetas`` of J^T diag(1/S) J, with J by central differences.

    Parameters
    ----------
    fields_of : callable
        The generator: theta of shape (N, s) -> fields of shape (N, C, H, W). Called twice per parameter
        (theta +- step e_j, each a batch of all N thetas).
    thetas : array_like of shape (N, s)
        Where J is evaluated (draws of p(theta)).
    variance : array_like
        Per-pixel data variance S, > 0, broadcastable to (C, H, W) (e.g. (H, W), shared across channels).
    step : float
        Central-difference step in theta units (> 0); exact for generators quadratic in theta.
    info : mapping, optional
        Provenance stored in the result.

    Returns
    -------
    SensitivityResult

    Raises
    ------
    DataError
        Bad ``thetas`` shape or values, non-positive or non-broadcastable ``variance``, or ``fields_of``
        returning a wrong shape.
    ConfigError
        ``step`` not a finite number > 0.
    """
    check_param(isinstance(step, (int, float)) and not isinstance(step, bool) and math.isfinite(step) and step > 0,
                "step", "a finite number > 0", step, "sensitivity_matrix()")
    thetas = _check_thetas(thetas)
    var = _check_variance(variance)
    n, s = thetas.shape
    weight = None
    wj = []  # S^-1/2 J_j, flattened: (N, P) per parameter j
    for j in range(s):
        e = np.zeros(s)
        e[j] = step
        d = (_eval(fields_of, thetas + e) - _eval(fields_of, thetas - e)) / (2.0 * step)
        if weight is None:
            weight = 1.0 / np.sqrt(_broadcast_variance(var, d.shape[1:]))
        wj.append((d * weight).reshape(n, -1))
    stacked = np.stack(wj, axis=-1)  # (N, P, s)
    per_sample = np.einsum("npi,npj->nij", stacked, stacked)
    matrix = per_sample.mean(axis=0)
    values, vectors = _canonical_eig(matrix)
    angles = _axis_angles(vectors)
    diag = np.sqrt(np.clip(np.diag(matrix), np.finfo(float).tiny, None))
    sd_metric = _sd_metric(thetas, vectors)
    if s == 2:
        w = np.radians(angles[0])
        sd_aligned = max(abs(math.cos(w)), abs(math.sin(w))) / (abs(math.cos(w)) + abs(math.sin(w)))
    else:
        sd_aligned = sd_metric
    return SensitivityResult(
        matrix=matrix, eigenvalues=values, eigenvectors=vectors, angles=angles,
        eigenvalue_ratio=float(values[0] / values[-1]) if values[-1] > 0 else float("inf"),
        correlation=matrix / np.outer(diag, diag), sd_aligned=float(sd_aligned), sd_metric=sd_metric,
        per_sample=per_sample, thetas=thetas, step=float(step), info=dict(info or {}),
    )


# -- Darcy datasets ----------------------------------------------------------------------------------------------
def _resolve_darcy(source: Any, n: int | None) -> tuple[Any, Any, Any, str]:
    """(GenerationConfig, KLEBasis, StoreInfo or None, label) of a store, store path, config or preset name."""
    from vaetk.darcy._kle import KLEBasis, kle_basis
    from vaetk.data._generate import load_config
    from vaetk.data._store import StoreInfo, is_store, open_store

    check_param(n is None or (isinstance(n, int) and not isinstance(n, bool) and n >= 3), "n",
                "an int >= 3 (nodes per side) or None", n, "darcy_sensitivity()")
    store = source if isinstance(source, StoreInfo) else None
    if store is None and isinstance(source, (str, os.PathLike)) and is_store(Path(source)):
        store = open_store(source, require_complete=True)
    if store is not None:
        config = load_config(store.attrs["config"])
        if n is not None and n != config.n:
            raise ConfigError(
                f"n = {n}: the store {str(store.path)!r} fixes the grid at n = {config.n}; n can only be changed "
                f"for a preset or configuration (pass its name instead of the store)."
            )
        basis = KLEBasis(n=config.n, length_scale=config.kle.length_scale, variance=config.kle.variance,
                         mean=config.kle.mean, eigenvalues=np.asarray(store.attrs["kle"]["eigenvalues"], float),
                         modes=np.asarray(store.root["kle_modes"][...]))
        return config, basis, store, str(store.path)
    config = load_config(source)
    if n is not None:
        config = dataclasses.replace(config, n=n)
    basis = kle_basis(config.n, length_scale=config.kle.length_scale, variance=config.kle.variance,
                      mean=config.kle.mean, n_modes=config.n_modes)
    label = source if isinstance(source, (str, os.PathLike)) else "configuration"
    return config, basis, None, str(label)


def _generator(config: Any, basis: Any) -> FieldsOf:
    from vaetk.darcy._solve import solve

    def fields_of(theta: np.ndarray) -> np.ndarray:
        return solve(basis.permeability(theta), scheme=config.scheme, solver=config.solver,
                     source_quadrature=config.source_quadrature)

    return fields_of


def darcy_generator(source: Any, *, n: int | None = None) -> FieldsOf:
    """theta (N, s) -> fields (N, 3, n, n) float64, built exactly as a Darcy dataset builds its samples.

    Parameters
    ----------
    source : StoreInfo, store path, GenerationConfig, mapping, TOML path or preset name
        A store's own KLE basis (the stored modes and eigenvalues), scheme, source quadrature and solver are
        used; for a configuration the basis is computed.
    n : int, optional
        Grid size override (configurations and presets only).
    """
    config, basis, _, _ = _resolve_darcy(source, n)
    return _generator(config, basis)


def darcy_sensitivity(source: Any, *, n_thetas: int = 300, seed: int = 0, step: float = 1e-3,
                      n: int | None = None) -> SensitivityResult:
    """:func:`sensitivity_matrix` of a Darcy dataset's generator theta -> [p, u_x, u_y].

    Parameters
    ----------
    source : StoreInfo, store path, GenerationConfig, mapping, TOML path or preset name
        The dataset (see :func:`darcy_generator`).
    n_thetas : int
        Thetas drawn from the dataset's p(theta) (its distribution plugin's ``sample``).
    seed : int
        Seed of ``numpy.random.default_rng`` for those draws.
    step : float
        Central-difference step.
    n : int, optional
        Grid size override for a configuration or preset (e.g. 33 vs 65).

    Returns
    -------
    SensitivityResult
        S is the per-pixel variance of :func:`vaetk.training.constant_predictor`: of the store's training
        fields (its test fields when it has no training split), or, for a configuration, of the fields at the
        drawn thetas.
    """
    import torch

    from vaetk.training._detector import constant_predictor

    owner = "darcy_sensitivity()"
    check_param(isinstance(n_thetas, int) and not isinstance(n_thetas, bool) and n_thetas >= 1, "n_thetas",
                "an int >= 1", n_thetas, owner)
    check_param(isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "an int >= 0", seed,
                owner)
    config, basis, store, label = _resolve_darcy(source, n)
    fields_of = _generator(config, basis)
    thetas = config.make_distribution().sample(n_thetas, np.random.default_rng(seed))
    if store is not None:
        split = "train" if "train" in store.splits else next(iter(store.splits))
        from vaetk.data._store import read_split

        data = np.asarray(read_split(store, split, ("fields",))["fields"], dtype=np.float64)  # verified, as every read
        s_from = f"constant predictor of the store's {split} fields ({len(data)} samples)"
    else:
        data = _eval(fields_of, thetas)
        s_from = f"constant predictor of the fields at the {n_thetas} drawn thetas"
    variance = constant_predictor(torch.from_numpy(data)).variance.numpy()
    dist = dict(config.distribution)
    info = {"dataset": label, "n": config.n, "n_modes": config.n_modes, "scheme": config.scheme,
            "solver": config.solver, "distribution": dist, "seed": seed, "variance_from": s_from}
    return sensitivity_matrix(fields_of, thetas, variance, step=step, info=info)


def plot_sensitivity(result: SensitivityResult, thetas: Any = None):
    """s = 2: ``thetas`` (if given), the theta axes and M's eigenvectors as arrows of length ~ sqrt(eigenvalue),
    with the angle in the title. s > 2: a heat map of the normalised M. Returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    s = result.matrix.shape[0]
    title = (f"angle {result.angles[0]:.2f} deg, eigenvalue ratio {result.eigenvalue_ratio:.3g}, "
             f"S_D(M-aligned) {result.sd_aligned:.3f}")
    if s != 2:
        fig, ax = plt.subplots(figsize=(5, 4.2))
        lim = float(np.abs(result.correlation).max())
        im = ax.imshow(result.correlation, cmap="RdBu_r", vmin=-lim, vmax=lim)
        fig.colorbar(im, ax=ax, label="M_ij / sqrt(M_ii M_jj)")
        ax.set_xlabel("theta index j")
        ax.set_ylabel("theta index i")
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        return fig
    fig, ax = plt.subplots(figsize=(5, 5))
    centre, radius = np.zeros(2), 1.0
    if thetas is not None:
        t = _check_thetas(thetas)
        ax.scatter(t[:, 0], t[:, 1], s=4, alpha=0.4, color="0.5", label="theta samples")
        centre, radius = t.mean(axis=0), 2.0 * float(np.sqrt(np.mean(t.var(axis=0))))
    ax.axhline(centre[1], color="0.3", lw=0.8, ls=":", label="theta axes")
    ax.axvline(centre[0], color="0.3", lw=0.8, ls=":")
    lengths = np.sqrt(np.clip(result.eigenvalues, 0.0, None))
    lengths = radius * lengths / max(float(lengths.max()), np.finfo(float).tiny)
    for k in range(2):
        vec = result.eigenvectors[:, k] * lengths[k]
        ax.annotate("", xy=centre + vec, xytext=centre - vec,
                    arrowprops={"arrowstyle": "<->", "color": f"C{k}", "lw": 2})
        ax.plot([], [], color=f"C{k}", lw=2, label=f"eigenvector {k + 1}, lambda = {result.eigenvalues[k]:.4g}")
    ax.set_xlabel("theta_1")
    ax.set_ylabel("theta_2")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig
