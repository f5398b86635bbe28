"""S_KL, the shape-matching disentanglement score of the paper (eq. 7).

S_KL = min over a, b of D_KL[p(theta) || q(a o (z - b))], estimated with the Wang-Kulkarni-Verdu k-NN
estimator (``estimator``, the paper's "epsilon 1" version by default, k = 5) and minimised by Nelder-Mead
(scipy.optimize) from a moment-matching start. Lower is better; about 0 when z is a scaled and shifted copy of
theta (with the factors in any order).

How it is computed
------------------
- Parametrisation: z is standardised per dimension (a constant dimension stays constant, no division by zero);
  the search variables are u (log scale) and c (shift) with y = exp(u) o z_std + c, i.e. a = exp(u) / std(z),
  b = mean(z) - c / a. Start: u = log std(theta), c = mean(theta) (the moments of y match those of theta).
- Signs: a may be negative (an axis flip). ``signs="skew"`` flips a latent axis when its skewness has the
  opposite sign to its factor's (both beyond 0.1 in magnitude); ``"all"`` tries all 2^s sign patterns.
- Axis order: a disentangled code may list the factors in another order. When d_z == s <= ``max_permute``
  (default 4: 24 orders) every assignment of latent axes to factors is fitted and the best (lowest fitted
  divergence) is kept and reported (``perm_j`` = latent axis matched to factor j); above that the given order
  is used.
- Twins: z_i encodes the same sample as theta_i, so for a good code a(z_i - b) lands next to theta_i; comparing
  theta with z of the same rows then finds each theta's own twin among its neighbours and biases the divergence
  low (and lets the optimiser chase twins). The two sample sets compared are therefore always disjoint rows.
- Safeguard against the minus-infinity collapse (docs/design.md, section 8.8): with ``safeguard="crossfit"`` (default)
  the rows are split in seeded random halves A and B; a, b are fitted on (theta_A, z_B) and S_KL is evaluated on
  (theta_B, z_A), so the optimiser never sees the pairs it is scored on and no pair shares a row.
  ``"in_sample"`` fits and evaluates on the same pair (theta_A, z_B) (optimistic: lower values) and needs
  k >= 5 so that no 2s-parameter affine map can zero a k-th neighbour distance. During the search a parameter
  set whose estimate is undefined (a zero distance) scores +inf, so Nelder-Mead moves away from it.
- Budget: Nelder-Mead with xatol = ``xatol`` (on u and c / std(theta)), fatol = ``fatol`` and at most
  ``max_evaluations`` estimator calls per start.

Returns ``skl`` (the held-out divergence), ``skl_fit`` (the divergence on the fitting half), ``evaluations``
(estimator calls), ``perm_0..perm_{s-1}``, ``scale_j`` (a) and ``shift_j`` (b).

Factors with at least k exact duplicate rows are not continuous and raise DataError (k-NN estimators need
continuous distributions).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma

from vaetk.plugin import DataError, Metric, WkvFixedX, check_param, wkv_terms

__all__ = ["SKL"]


class _Divergence:
    """D(x || y) for a fixed x and many y, from the unchecked WKV helpers (inputs already validated)."""

    def __init__(self, x: np.ndarray, m: int, cfg: SKL.Config) -> None:
        self.x, self.cfg = x, cfg
        self.n, self.d = x.shape
        self.offset = float(np.log(m / (self.n - 1)))
        self.digamma = digamma(np.arange(max(self.n, m) + 2, dtype=float))  # psi(0) = -inf is never used
        self.calls = 0
        self.out: tuple[np.ndarray, ...] | None = None
        if cfg.backend == "native":
            # x-side structure, rho_k and neighbour lists computed once for all transformed y (one C++ call each)
            self.fixed = WkvFixedX(x, k=cfg.k, estimator=cfg.estimator)
            # buffers the native terms are written to, reused by every call
            self.out = (np.empty(self.n), np.empty(self.n), np.empty(self.n, dtype=np.int64),
                        np.empty(self.n, dtype=np.int64))

    def terms(self, y: np.ndarray) -> tuple[np.ndarray, ...]:
        return wkv_terms(self.x, y, k=self.cfg.k, estimator=self.cfg.estimator, backend=self.cfg.backend,
                         n_threads=self.cfg.n_threads, out=self.out)  # type: ignore[arg-type]

    def transformed(self, z: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> float:
        """D(x || scale * z + shift), the same value as ``self(scale * z + shift)`` up to summation order."""
        if self.cfg.backend != "native":
            return self(scale * z + shift)
        self.calls += 1
        return self.fixed.evaluate(z, scale, shift, n_threads=self.cfg.n_threads)

    def __call__(self, y: np.ndarray) -> float:
        self.calls += 1
        rho, nu, li, ki = self.terms(np.ascontiguousarray(y))
        if not (rho.all() and nu.all()):
            return np.inf
        value = self.d * np.mean(np.log(nu / rho)) + self.offset
        if self.cfg.estimator == "wkv_eps1":
            value += float(np.mean(self.digamma[li] - self.digamma[ki]))
        return float(value)


def _skewness(v: np.ndarray) -> np.ndarray:
    c = v - v.mean(axis=0)
    sd = np.sqrt(np.mean(c**2, axis=0))
    return np.where(sd > 0, np.mean(c**3, axis=0) / np.where(sd > 0, sd, 1.0) ** 3, 0.0)


class SKL(Metric):
    """S_KL (eq. 7): min_{a,b} KL[p(theta) || q(a o (z - b))] by k-NN estimation and Nelder-Mead; lower is better.

    See :mod:`vaetk_plugins.metrics.skl` for the estimator, the safeguard, the permutation search and the budget.
    """

    name = "skl"
    primary = "skl"
    interval_keys = ("skl", "skl_fit")
    higher_is_better = False
    min_samples = 24
    same_dims = True
    bootstrap_method = "subsample"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of S_KL (see the module docstring).

        Attributes
        ----------
        k : int
            Neighbour order of the k-NN estimator.
        estimator : {"wkv_eps1", "wkv"}
            WKV estimator (the paper uses the eps1 version).
        safeguard : {"crossfit", "in_sample"}
            Protection against the minus-infinity collapse.
        max_permute : int
            Largest s for which every axis order is tried (s! orders); 1 disables the search.
        signs : {"skew", "all"}
            How the sign of each scale is chosen.
        xatol, fatol : float
            Nelder-Mead tolerances.
        max_evaluations : int
            Estimator calls per Nelder-Mead start.
        backend : {"native", "scipy"}
            k-NN backend ("scipy" exists for comparison and benchmarks).
        n_threads : int
            Threads of the native backend (results do not depend on it).
        """

        k: int = 5
        estimator: Literal["wkv_eps1", "wkv"] = "wkv_eps1"
        safeguard: Literal["crossfit", "in_sample"] = "crossfit"
        max_permute: int = 4
        signs: Literal["skew", "all"] = "skew"
        xatol: float = 1e-2
        fatol: float = 1e-3
        max_evaluations: int = 200
        backend: Literal["native", "scipy"] = "native"
        n_threads: int = 1

        def __post_init__(self) -> None:
            owner = "metric 'skl'"
            check_param(self.k >= 1, "k", "a positive integer", self.k, owner)
            check_param(self.safeguard != "in_sample" or self.k >= 5, "k",
                        "at least 5 with safeguard = 'in_sample' (in-sample fitting needs k >= 5, otherwise the "
                        "optimiser can drive the estimate to minus infinity)", self.k, owner)
            check_param(1 <= self.max_permute <= 6, "max_permute", "an int in 1..6 (s! orders are fitted)",
                        self.max_permute, owner)
            check_param(self.max_evaluations >= 10, "max_evaluations", "an int >= 10", self.max_evaluations, owner)
            check_param(self.xatol > 0, "xatol", "a number > 0", self.xatol, owner)
            check_param(self.fatol > 0, "fatol", "a number > 0", self.fatol, owner)
            check_param(self.n_threads >= 1, "n_threads", "an int >= 1", self.n_threads, owner)

    def compute(self, latents: np.ndarray, factors: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        cfg = self.config
        n, s = factors.shape
        order = rng.permutation(n)
        rows_a, rows_b = np.sort(order[: n // 2]), np.sort(order[n // 2:])
        # fit on (theta_A, z_B); evaluate on (theta_B, z_A) or, in sample, again on (theta_A, z_B)
        fit_x, fit_y = rows_a, rows_b
        eval_x, eval_y = (rows_b, rows_a) if cfg.safeguard == "crossfit" else (rows_a, rows_b)
        if rows_a.size < cfg.k + 1:
            raise DataError(f"S_KL with k = {cfg.k} needs at least {2 * (cfg.k + 1)} samples (two disjoint halves),"
                            f" got {n}.")
        fit_kl = _Divergence(np.ascontiguousarray(factors[fit_x]), fit_y.size, cfg)
        eval_kl = _Divergence(np.ascontiguousarray(factors[eval_x]), eval_y.size, cfg)
        for rows, div in ((fit_x, fit_kl), (eval_x, eval_kl)):
            rho = div.terms(div.x)[0]  # x against itself: only the within-theta distances matter here
            if not rho.all():
                row = int(rows[np.flatnonzero(rho == 0)[0]])
                raise DataError(f"factors row {row} has at least k = {cfg.k} exact duplicates among the factor "
                                "rows it is compared with; S_KL needs continuous factors (k-NN distances of "
                                "exactly 0 have no log).")

        mean_z, sd_z = latents.mean(axis=0), latents.std(axis=0)
        sd_z = np.where(sd_z > 1e-12 * np.maximum(np.abs(latents).max(axis=0), 1e-300), sd_z, 1.0)
        z_std = (latents - mean_z) / sd_z
        sd_t, mean_t = factors.std(axis=0), factors.mean(axis=0)
        sd_t = np.where(sd_t > 0, sd_t, 1.0)

        perms = (list(itertools.permutations(range(s))) if s <= cfg.max_permute else [tuple(range(s))])
        best = None
        for perm in perms:
            zp = z_std[:, perm]
            if cfg.signs == "all":
                sign_sets = [np.array(sg) for sg in itertools.product((1.0, -1.0), repeat=s)]
            else:
                sk_z, sk_t = _skewness(zp), _skewness(factors)
                flip = (np.abs(sk_z) > 0.1) & (np.abs(sk_t) > 0.1) & (np.sign(sk_z) != np.sign(sk_t))
                sign_sets = [np.where(flip, -1.0, 1.0)]
            for signs in sign_sets:
                zs = zp * signs
                z_fit = np.ascontiguousarray(zs[fit_y])

                def objective(p: np.ndarray, z_fit: np.ndarray = z_fit) -> float:
                    u = np.clip(p[:s], -50.0, 50.0)
                    return fit_kl.transformed(z_fit, np.exp(u), p[s:] * sd_t)

                start = np.concatenate([np.log(sd_t), mean_t / sd_t])
                simplex = np.vstack([start] + [start + 0.25 * np.eye(2 * s)[i] for i in range(2 * s)])
                res = minimize(objective, start, method="Nelder-Mead",
                               options={"xatol": cfg.xatol, "fatol": cfg.fatol, "maxfev": cfg.max_evaluations,
                                        "initial_simplex": simplex})
                value = float(res.fun)
                if best is None or value < best[0]:
                    best = (value, perm, signs, res.x.copy())
        assert best is not None
        fit_value, perm, signs, params = best
        u = np.clip(params[:s], -50.0, 50.0)
        y_eval = np.exp(u) * (z_std[:, perm] * signs)[eval_y] + params[s:] * sd_t
        held_out = eval_kl(y_eval)
        if not np.isfinite(held_out):
            raise DataError("S_KL: the transformed latents coincide with at least k factor samples of the "
                            "evaluation half (a needed k-NN distance is 0); the factors and latents share exact "
                            "values, which a k-NN divergence cannot score.")
        # a_j, b_j in the paper's form y = a o (z - b), for the latent axis matched to factor j
        scale = np.exp(u) * signs / sd_z[list(perm)]
        shift = mean_z[list(perm)] - params[s:] * sd_t / scale
        out = {"skl": float(held_out), "skl_fit": float(fit_value),
               "evaluations": float(fit_kl.calls + eval_kl.calls - 2)}
        out.update({f"perm_{j}": float(perm[j]) for j in range(s)})
        out.update({f"scale_{j}": float(scale[j]) for j in range(s)})
        out.update({f"shift_{j}": float(shift[j]) for j in range(s)})
        return out
