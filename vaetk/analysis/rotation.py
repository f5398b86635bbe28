"""Latent rotation (paper section 5.2, Fig. 10): how the regularisation loss and S_D change when the latent space
is rotated by an angle omega while the reconstruction is kept unchanged.

The rotated model encodes q'(z|y) = N(A mu, A S A^T) (S = diag(exp(logvar))) and decodes p'(y|z) = p(y|A^T z),
with A a rotation by omega in one plane of the latent space. A sample of q' is z' = A z, z ~ q, and the decoder
sees A^T z' = z: reconstruction is unchanged, sample by sample.

The rotated posterior's covariance is not diagonal, while priors take a diagonal (mu, logvar). The prior is
therefore given the exact sample z' = A z, the exact mean A mu and the exact marginal log-variances
log diag(A S A^T), and the entropy difference between that diagonal Gaussian and the true rotated one,
``0.5 * (sum(logvar') - sum(logvar))``, is added back. This is exact for any prior whose regularisation is an
analytic KL to a diagonal Gaussian (the standard normal and fixed Gaussian priors: their cross-entropy depends on
the posterior only through its mean and marginal variances), and unbiased for one-sample estimators such as the
hierarchical prior's (their log q(z'|y) term has expectation minus the diagonal Gaussian's entropy).
For a rotation-invariant prior (standard normal) the result does not depend on omega.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from vaetk._validation import is_int
from vaetk.errors import ConfigError
from vaetk.models._evaluate import Scores, _batches, _generator, latent_scores, prepared_for_eval
from vaetk.models.vae import check_dataset

__all__ = ["RotationResult", "plot_rotation", "rotated_regularization", "rotation_matrix", "rotation_scan"]


def rotation_matrix(latent_dim: int, omega: float, plane: tuple[int, int] = (0, 1), *,
                    dtype: torch.dtype = torch.float64) -> Tensor:
    """The (latent_dim, latent_dim) rotation by ``omega`` radians in the plane of axes ``plane``."""
    i, j = plane
    if latent_dim < 2 or not (0 <= i < latent_dim and 0 <= j < latent_dim) or i == j:
        raise ConfigError(f"plane {plane!r}: need two distinct axes in [0, {latent_dim}) (latent_dim >= 2).")
    a = torch.eye(latent_dim, dtype=torch.float64)
    c, s = math.cos(omega), math.sin(omega)
    a[i, i], a[i, j], a[j, i], a[j, j] = c, -s, s, c
    return a.to(dtype)


def rotated_regularization(prior: nn.Module, z: Tensor, mu: Tensor, logvar: Tensor, a: Tensor) -> Tensor:
    """Per-sample L_REG (nats) of the posterior N(mu, diag(exp(logvar))) rotated by ``a``, for sample ``z``.

    See the module docstring for how a full-covariance posterior is presented to a diagonal prior.
    """
    a = a.to(mu.dtype)
    var = torch.exp(logvar)
    z_rot, mu_rot = z @ a.T, mu @ a.T
    var_rot = var @ (a * a).T  # diag(A diag(var) A^T)_i = sum_k A_ik^2 var_k
    logvar_rot = torch.log(var_rot)
    reg = prior.regularization(z_rot, mu_rot, logvar_rot)["total"]
    return reg + 0.5 * (logvar_rot.sum(1) - logvar.sum(1))


@dataclass(frozen=True)
class RotationResult:
    """L_REG, L_REC and scores against the rotation angle.

    Attributes
    ----------
    omega : ndarray
        Angles in radians.
    reg_elbo, rec_elbo : ndarray
        Mean regularisation and reconstruction losses (nats per sample) at each angle.
    reg_per_pixel, rec_per_pixel : ndarray
        The same in the authors' units.
    scores : dict of str to ndarray
        Scores (S_D, ...) of the rotated encoder means at each angle.
    """

    omega: np.ndarray
    reg_elbo: np.ndarray
    rec_elbo: np.ndarray
    reg_per_pixel: np.ndarray
    rec_per_pixel: np.ndarray
    scores: dict[str, np.ndarray] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {k: getattr(self, k).tolist() for k in ("omega", "reg_elbo", "rec_elbo", "reg_per_pixel",
                                                       "rec_per_pixel")}
        out["scores"] = {k: v.tolist() for k, v in self.scores.items()}
        return out

    def summary(self) -> dict[str, float]:
        """Where L_REG is lowest and highest over the scanned angles (degrees), and, when S_D was scored, its
        value where S_D is highest (the orientation closest to the factor axes): an identifiable prior has its
        lowest L_REG there."""
        omega = np.degrees(self.omega)
        lo, hi = int(np.argmin(self.reg_elbo)), int(np.argmax(self.reg_elbo))
        out = {"reg_trained": float(self.reg_elbo[0]), "reg_min": float(self.reg_elbo[lo]),
               "omega_reg_min": float(omega[lo]), "reg_max": float(self.reg_elbo[hi]),
               "omega_reg_max": float(omega[hi])}
        sd = self.scores.get("sd")
        if sd is not None and len(sd):
            best = int(np.argmax(sd))
            out.update(sd_trained=float(sd[0]), sd_max=float(sd[best]), omega_sd_max=float(omega[best]),
                       reg_at_sd_max=float(self.reg_elbo[best]))
        return out


def rotation_scan(vae: nn.Module, x: Tensor, omegas: Sequence[float] | int = 37, *, theta: Tensor | None = None,
                  scores: Scores | None = None, plane: tuple[int, int] = (0, 1), n_latent_samples: int = 10,
                  batch_size: int = 256, seed: int = 0, batchnorm: str = "recompute") -> RotationResult:
    """Rotate the latent space of ``vae`` by each omega; record losses and scores (paper Fig. 10).

    Parameters
    ----------
    vae : VAE
        With ``encode``, ``decode`` and ``prior`` (:class:`vaetk.models.vae.VAE`).
    x : Tensor of shape (N, C, H, W)
        Data (the whole training set in the paper).
    omegas : sequence of float or int
        Angles in radians; an int n means n angles evenly spaced over [0, pi/2] (a quarter turn: with two
        factors, S_D is periodic with period pi/2).
    theta, scores : optional
        Generative factors and name -> f(latents, factors), evaluated on the rotated encoder means A mu.
    n_latent_samples, batch_size, seed, batchnorm
        As for :func:`vaetk.analysis.dataset_losses`; the same noise is used at every angle.
    """
    check_dataset(x, theta, "input", where="rotation_scan")
    if is_int(omegas):
        omega = np.linspace(0.0, math.pi / 2, omegas)
    else:
        omega = np.asarray(omegas, dtype=float)
    if omega.ndim != 1 or omega.size == 0 or not np.all(np.isfinite(omega)):
        raise ConfigError(f"omegas must be a positive count or a list of finite angles, got {omegas!r}.")
    d = int(vae.latent_dim)
    rots = [rotation_matrix(d, float(w), plane) for w in omega]
    n = x.shape[0]
    reg = np.zeros(omega.size)
    rec = np.zeros(omega.size)
    hw = x.shape[-2] * x.shape[-1]
    with prepared_for_eval(vae, x, batchnorm=batchnorm, batch_size=batch_size, seed=seed) as model, \
            torch.no_grad():
        from vaetk.models.vae import gaussian_nll

        g = _generator(seed + 1, x.device)
        mus = []
        for sl in _batches(n, batch_size):
            mu, logvar = model.encode(x[sl])
            mus.append(mu.double())
            for _ in range(n_latent_samples):
                z = model.reparameterize(mu, logvar, g)
                w = 1.0 / (n * n_latent_samples)  # the sums below run over the batch
                for k, a in enumerate(rots):
                    a_t = a.to(z.dtype).to(z.device)
                    z_rot = z @ a_t.T
                    mean, dec_logvar = model.decode(z_rot @ a_t)  # the rotated decoder undoes the rotation
                    rec[k] += w * float(gaussian_nll(x[sl], mean, dec_logvar).sum())
                    reg[k] += w * float(rotated_regularization(model.prior, z, mu, logvar, a_t).sum())
        mu_all = torch.cat(mus).cpu()
    score_vals: dict[str, list[float]] = {}
    for a in rots:
        for key, value in latent_scores((mu_all @ a.T).numpy(), theta, scores).items():
            score_vals.setdefault(key, []).append(value)
    normalizer = float(vae.prior.authors_normalizer())
    return RotationResult(omega, reg, rec, reg / normalizer, rec / hw,
                          {k: np.asarray(v) for k, v in score_vals.items()})


def plot_rotation(result: RotationResult, *, score: str = "sd"):
    """L_REG (per pixel) against omega in degrees, with ``score`` on a second axis; returns the figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    deg = np.degrees(result.omega)
    ax.plot(deg, result.reg_per_pixel, "o-", color="C0", ms=3)
    ax.set_xlabel("rotation omega (degrees)")
    ax.set_ylabel("L_REG (per-pixel units)", color="C0")
    if score in result.scores:
        ax2 = ax.twinx()
        ax2.plot(deg, result.scores[score], "s--", color="C1", ms=3)
        ax2.set_ylabel(score, color="C1")
    fig.tight_layout()
    return fig
