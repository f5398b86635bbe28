"""The solver plugin group (``vaetk.solvers``): how a Darcy solver plugs into :func:`vaetk.darcy.solve`.

A solver receives validated inputs, a batch of permeability fields and node sources, and returns pressures; the
front-end does everything else (input checks, sources, velocity, trust measures). Every solver solves the same
problem, the bordered system of its scheme (see :mod:`vaetk.darcy._reference`)::

    [[A, w], [w^T, 0]] [p; lam] = [rhs; 0],   rhs = f (paper) or w f (conservative)

and reports, per sample, the relative residual ``||b - M x|| / ||b||`` of that system and its iteration count.

Writing a solver (the full walk-through is in ``plugins/README.md``)::

    from dataclasses import dataclass
    from vaetk.plugin import Solver, SolverResult, check_param

    class MySolver(Solver):
        name = "my_solver"

        @dataclass(frozen=True, kw_only=True)
        class Config:
            tol: float = 1e-10

            def __post_init__(self) -> None:
                check_param(0 < self.tol < 1, "tol", "a number in (0, 1)", self.tol, "solver 'my_solver'")

        def supports(self, scheme: str) -> bool:
            return scheme == "conservative"

        def solve_batch(self, permeability, source, scheme, *, tol=None, n_threads=None) -> SolverResult:
            ...

built as ``MySolver(config)`` (a ``Config``, a table of its fields or None), then registered under
``[project.entry-points."vaetk.solvers"]`` and tested with :mod:`vaetk.testing`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vaetk.config import check_param
from vaetk.darcy._sources import trapezoid_weights
from vaetk.errors import SolverError
from vaetk.plugin import Plugin

__all__ = ["Solver", "SolverResult", "attainable_tol", "bordered_rhs", "raise_if_unconverged"]


@dataclass(frozen=True)
class SolverResult:
    """What a solver returns for a batch.

    Attributes
    ----------
    pressure : ndarray of shape (N, n, n), float64
        Pressure with zero trapezoid-weighted mean.
    residual : ndarray of shape (N,)
        Relative residual of each sample's bordered system.
    iterations : ndarray of shape (N,), int64
        Iterations per sample (0 for direct solvers).
    """

    pressure: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray


class Solver(Plugin):
    """Base class of Darcy solver plugins.

    Parameters
    ----------
    config : Config or mapping, optional
        The solver's parameters: an instance of the plugin's ``Config`` dataclass, or a table parsed strictly
        into one (unknown keys are errors with suggestions). Defaults to ``Config()``. Solvers take no context.

    Attributes
    ----------
    iterative : bool
        Class attribute: True for solvers that take a tolerance (their ``Config`` then has ``tol`` and
        ``maxiter``) and raise :class:`vaetk.errors.SolverError` on non-convergence.
    """

    plugin_group: ClassVar[str] = "solvers"
    required_methods: ClassVar[tuple[str, ...]] = ("supports", "solve_batch")
    iterative: ClassVar[bool] = False

    @abc.abstractmethod
    def supports(self, scheme: str) -> bool:
        """Whether this solver can solve ``scheme`` (``"paper"`` or ``"conservative"``)."""
        raise NotImplementedError

    @abc.abstractmethod
    def solve_batch(
        self,
        permeability: np.ndarray,
        source: np.ndarray,
        scheme: str,
        *,
        tol: float | None = None,
        n_threads: int | None = None,
    ) -> SolverResult:
        """Solve every sample of a batch.

        Parameters
        ----------
        permeability : ndarray of shape (N, n, n), float64, C-contiguous
            Finite and > 0 (already checked).
        source : ndarray of shape (N, n, n), float64
            f at the nodes (the conservative scheme's right-hand side is ``w f``; see :func:`bordered_rhs`).
        scheme : {"paper", "conservative"}
            Only schemes for which :meth:`supports` is True are passed.
        tol : float, optional
            Relative residual to reach (iterative solvers; None means the config's ``tol``). Direct solvers
            ignore it.
        n_threads : int, optional
            Threads for batch-parallel solvers (see :func:`vaetk.effective_n_threads`).

        Raises
        ------
        SolverError
            A sample could not be solved (the message names the sample index).
        """
        raise NotImplementedError

    def effective_tol(self, tol: float | None, n: int | None = None) -> float:
        """``tol`` if given, else the config's; checked to be in (0, 1). With the grid size ``n``, raised to
        :func:`attainable_tol` where it asks for more than double precision can give on that grid."""
        value = getattr(self.config, "tol", 0.0) if tol is None else tol
        check_param(isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1, "tol",
                    "a number in (0, 1)", value, self.owner())
        return float(value) if n is None else max(float(value), attainable_tol(n))


def attainable_tol(n: int) -> float:
    """The smallest relative residual an iterative solver is held to on an n x n grid: 16 eps (n - 1)^2.

    The operator's condition number grows like (n - 1)^2, and rounding in the products with it puts a floor under
    the residual that any iterate can show: GMRES on the paper scheme stalled between 1.5e-10 and 4.5e-10 at
    n = 513 (3 to 8 eps (n - 1)^2; a solution exact to one rounding in every entry already shows 1.2e-11). The
    floor exceeds the default tolerance, 1e-10, from n = 169 on (2.3e-10 at n = 257, 9.3e-10 at n = 513).
    """
    return 16.0 * float(np.finfo(np.float64).eps) * (n - 1) ** 2


def bordered_rhs(source: np.ndarray, scheme: str) -> np.ndarray:
    """The upper block ``rhs`` (N, n^2) of the bordered system: ``f`` (paper) or ``w f`` (conservative)."""
    n = source.shape[-1]
    f = source.reshape(source.shape[0], n * n)
    return f.copy() if scheme == "paper" else f * trapezoid_weights(n).ravel()


def raise_if_unconverged(residual: np.ndarray, iterations: np.ndarray, tol: float, solver: str,
                         maxiter: int) -> None:
    """Raise SolverError naming the first sample whose residual is above ``tol`` (or not finite)."""
    bad = np.flatnonzero(~(residual <= tol))
    if bad.size:
        s = int(bad[0])
        raise SolverError(
            f"Solver {solver!r} did not converge for sample {s}: relative residual {residual[s]:.3e} > tol "
            f"{tol:.1e} after {int(iterations[s])} iterations (maxiter {maxiter}); {bad.size} of {residual.size} "
            f"sample(s) failed. Raise maxiter or tol in the solver config, or use solver='direct'.",
            samples=tuple(int(i) for i in bad),
        )
