"""``vaetk.darcy.solve``: steady Darcy flow -div(K grad p) = f, no-flux boundaries, zero-mean pressure.

This module validates inputs, builds the source, dispatches to a solver and reports how far the result can be
trusted (:class:`SolveInfo`). The schemes are documented in :mod:`vaetk.darcy._reference`.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaetk._validation import did_you_mean
from vaetk.config import check_param
from vaetk.darcy._kernels import assemble, velocity
from vaetk.darcy._sources import QUADRATURES, paper_source, trapezoid_weights
from vaetk.errors import ConfigError, DataError, VaetkWarning

__all__ = ["AUTO_SOLVER", "DEFAULT_QUADRATURE", "DEVICE_SOLVER", "MASS_BALANCE_LIMIT", "SCHEMES", "SolveInfo",
           "UntrustedSolutionWarning", "check_device", "resolve_solver", "solve"]

SCHEMES = ("conservative", "paper")
# The paper scheme reproduces the authors' data, node-sampled wells included; the conservative scheme defaults
# to the exact dual-cell quadrature.
DEFAULT_QUADRATURE = {"paper": "node", "conservative": "cell"}
# What solver="auto" picks: the native multigrid solver (it applies to both schemes).
AUTO_SOLVER = {"conservative": "native", "paper": "native"}
# What solve(..., device=...) runs: the device-generic torch solver (vaetk/darcy/_torch_solver.py).
DEVICE_SOLVER = "torch"
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def check_device(device: Any, owner: str) -> None:
    """ConfigError unless ``device`` is "auto", "cpu", "cuda" or "cuda:N" (the form only: whether this machine
    has it is checked when a batch is solved, so configurations stay portable). Needs no torch."""
    check_param(isinstance(device, str) and _DEVICE_PATTERN.fullmatch(device) is not None, "device",
                "'auto', 'cpu', 'cuda' or 'cuda:N'", device, owner)


@dataclass(frozen=True)
class SolveInfo:
    """How a batch was solved and how far each solution can be trusted.

    Attributes
    ----------
    solver, scheme, source_quadrature : str
        What was used (``solver`` is the resolved name, never ``"auto"``).
    tol : float
        Requested relative tolerance of iterative solvers (0.0 for direct solvers).
    residual : ndarray of shape (N,)
        Relative algebraic residual ||b - M x|| / ||b|| of each sample's bordered system.
    iterations : ndarray of shape (N,)
        Iterations used per sample (0 for direct solvers).
    mass_balance : ndarray of shape (N,)
        max over dual cells of |net conservative-flux outflow - injected w f|, relative to the total injection
        sum(|w f|) / 2. At solver precision for the conservative scheme (up to the uniform correction of an
        incompatible source); O(h^2) for the paper scheme, which is not conservative.
    zero_mean : ndarray of shape (N,)
        |sum(w p)| / sum(w |p|): how exactly the zero-mean constraint holds.
    device : str
        Where the solve ran: ``"cpu"`` for the CPU solvers, the torch device (``"cpu"``, ``"cuda:0"``) for
        solvers that report one.
    """

    solver: str
    scheme: str
    source_quadrature: str
    tol: float
    residual: np.ndarray
    iterations: np.ndarray
    mass_balance: np.ndarray
    zero_mean: np.ndarray
    device: str = "cpu"

    @property
    def untrusted(self) -> np.ndarray:
        """Indices of the samples whose mass balance fails :data:`MASS_BALANCE_LIMIT` (NaN fails; a warning says
        so)."""
        return np.flatnonzero(~(self.mass_balance <= MASS_BALANCE_LIMIT[self.scheme]))


def _as_batch(array: Any, name: str) -> np.ndarray:
    """Coerce to a float64 (N, n, n) C-contiguous array, with errors that say what was expected."""
    try:
        arr = np.asarray(array)
    except ValueError:  # numpy refuses ragged nested lists
        raise DataError(f"{name} is a ragged nested list (rows of different lengths); give an (n, n) or "
                        "(N, n, n) array.") from None
    if arr.dtype.kind not in "fiu" or arr.dtype.kind == "b":
        raise DataError(
            f"{name} must be a real numeric array (float or int); got dtype {arr.dtype}. Convert it with "
            f"np.asarray({name}, dtype=float)."
        )
    given = arr.shape
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[1] != arr.shape[2]:
        raise DataError(f"{name} must have shape (n, n) or (N, n, n) on a square node grid; got shape {given}.")
    if arr.shape[1] < 3:
        raise DataError(f"{name}: the grid needs at least 3 x 3 nodes; got {arr.shape[1]} x {arr.shape[2]}.")
    if arr.shape[0] == 0:
        raise DataError(f"{name} is an empty batch (shape {arr.shape}); pass at least one sample.")
    return np.ascontiguousarray(arr, dtype=np.float64)


PERMEABILITY_RANGE = (1e-100, 1e100)


def _check_permeability(K: np.ndarray) -> None:
    bad = ~np.isfinite(K) | (K <= 0)
    if bad.any():
        sample, row, col = (int(v) for v in np.argwhere(bad)[0])
        value = float(K[sample, row, col])
        raise DataError(
            f"permeability must be finite and > 0 everywhere; sample {sample} has {value!r} at node "
            f"(row {row}, col {col}) ({int(bad.sum())} bad value(s) in the batch). Permeability is usually "
            f"exp(log-permeability): check the field that produced it."
        )
    # Products of two permeabilities (harmonic face means) and of pressures (~1/K) in dot products must stay
    # normal doubles; the schemes work to rounding for K in [1e-150, 1e150] (measured), PERMEABILITY_RANGE keeps
    # a margin for fine grids and high contrast. Outside it: a singular coarse grid or a NaN residual (issue 15).
    lo, hi = PERMEABILITY_RANGE
    out = (K < lo) | (K > hi)
    if out.any():
        sample, row, col = (int(v) for v in np.argwhere(out)[0])
        raise DataError(
            f"permeability must lie in [{lo:g}, {hi:g}], where the schemes' arithmetic is representable in double "
            f"precision; sample {sample} has {float(K[sample, row, col])!r} at node (row {row}, col {col}) "
            f"({int(out.sum())} value(s) outside in the batch). The solution scales exactly: for K' = c K the "
            "pressure is p / c and the velocity is unchanged, so solve with K / c and divide the pressure by c."
        )


def _resolve_source(source: Any, n: int, batch: int, quadrature: str) -> np.ndarray:
    if source is None:
        return np.broadcast_to(paper_source(n, quadrature=quadrature), (batch, n, n))
    f = _as_batch(source, "source")
    if f.shape[1:] != (n, n) or f.shape[0] not in (1, batch):
        raise DataError(
            f"source must have shape ({n}, {n}) or ({batch}, {n}, {n}) to match the permeability; "
            f"got {np.shape(source)}."
        )
    if not np.all(np.isfinite(f)):
        raise DataError("source contains NaN or infinite values.")
    return np.broadcast_to(f, (batch, n, n))


def trust_measures(fields: np.ndarray, permeability: np.ndarray, source: np.ndarray,
                   n_threads: int | None = None) -> tuple[np.ndarray, ...]:
    """(mass_balance, zero_mean) per sample, as defined in :class:`SolveInfo`."""
    batch, n = fields.shape[0], fields.shape[-1]
    w = trapezoid_weights(n)
    p = fields[:, 0].reshape(batch, n * n)
    op = assemble(permeability, "conservative", n_threads)
    # A p row by row on the shared pattern: sum over each row's entries of data * p[column].
    Ap = np.add.reduceat(op.data * p[:, op.indices], op.indptr[:-1], axis=1)
    imbalance = np.abs(Ap - (w * source).reshape(batch, n * n)).max(axis=1)
    injected = 0.5 * np.abs(w * source).reshape(batch, -1).sum(axis=1)
    tiny = np.finfo(float).tiny
    mass = imbalance / np.maximum(injected, tiny)
    mean = np.abs((w * fields[:, 0]).sum(axis=(1, 2))) / np.maximum((w * np.abs(fields[:, 0])).sum(axis=(1, 2)),
                                                                    tiny)
    return mass, mean


def resolve_solver(solver: Any, scheme: str) -> tuple[str, Any]:
    """``(name, instance)`` of the solver to use: ``"auto"``, a registry name or a Solver instance.

    Raises
    ------
    PluginNotFoundError
        Unknown name (with close matches and the available names).
    ConfigError
        The solver does not support ``scheme``.
    """
    from vaetk.darcy.solvers import Solver
    from vaetk.registry import registry

    if isinstance(solver, Solver):
        name, instance = getattr(solver, "name", None) or type(solver).__name__, solver
    elif isinstance(solver, str):
        name = AUTO_SOLVER[scheme] if solver == "auto" else solver
        instance = registry.solvers.get(name)()
    else:
        raise ConfigError(f"solver must be 'auto', a solver name or a Solver instance; got {solver!r}.")
    if not instance.supports(scheme):
        able = []
        for other in registry.solvers.names():
            try:
                if registry.solvers.get(other)().supports(scheme):
                    able.append(other)
            except Exception:  # noqa: BLE001 - a broken plugin must not hide this message
                continue
        raise ConfigError(
            f"Solver {name!r} does not support the {scheme!r} scheme. Solvers that do: {', '.join(able) or 'none'}"
            f" (solver='auto' picks {AUTO_SOLVER[scheme]!r})."
        )
    return name, instance


def _device_solver(solver: Any, scheme: str, device: str) -> tuple[str, Any]:
    """``(name, instance)`` of the torch solver on ``device`` for ``solve(..., solver=solver, device=device)``.

    Raises
    ------
    ConfigError
        A malformed device, or a solver named that cannot run on a device (only ``"auto"``, ``"torch"`` or a
        solver instance whose config has a ``device`` can).
    """
    from vaetk.darcy.solvers import Solver
    from vaetk.registry import registry

    check_device(device, "solve()")
    if isinstance(solver, str) and solver in ("auto", DEVICE_SOLVER):
        instance = registry.solvers.get(DEVICE_SOLVER)({"device": device})
    elif isinstance(solver, Solver) and any(f.name == "device" for f in dataclasses.fields(solver.config)):
        instance = type(solver)(dataclasses.replace(solver.config, device=device))
    else:
        named = solver if isinstance(solver, str) else type(solver).__name__
        raise ConfigError(
            f"device={device!r} asks for the {DEVICE_SOLVER!r} solver (torch, CPU or GPU), but solver={named!r} was "
            f"given, which has no device setting. Pass solver='auto' or solver={DEVICE_SOLVER!r} with a device, "
            f"or leave device unset to use {named!r}."
        )
    return resolve_solver(instance, scheme)  # name and the scheme check


def solve(
    permeability: Any,
    source: Any = None,
    *,
    scheme: str = "conservative",
    solver: Any = "auto",
    n_threads: int | None = None,
    source_quadrature: str | None = None,
    tol: float | None = None,
    return_info: bool = False,
    device: str | None = None,
) -> np.ndarray | tuple[np.ndarray, SolveInfo]:
    """Solve steady Darcy flow for a batch of permeability fields (paper eq. 16).

    -div(K grad p) = f on [0, 1]^2 with u . n = 0 on the boundary and the trapezoid-weighted mean of p zero;
    u = -K grad p.

    Parameters
    ----------
    permeability : array_like of shape (N, n, n) or (n, n)
        K > 0 at the nodes ([row, col] = [y, x]).
    source : array_like of shape (n, n) or (N, n, n), optional
        f at the nodes. None: the paper's wells (+10 on x, y in [0, 1/8], -10 on x, y in [7/8, 1]).
    scheme : {"conservative", "paper"}
        ``"conservative"``: harmonic-mean face permeabilities, symmetric operator. ``"paper"``: the authors'
        non-conservative expanded form. Both are second order.
    solver : str or Solver
        ``"auto"`` (``"native"``: C++ multigrid-preconditioned CG / GMRES; with a ``device``: ``"torch"``), the
        name of a plugin of the ``vaetk.solvers`` group (built-ins: ``native``, ``torch``, ``direct``, ``amg``,
        ``reference``; see
        ``vaetk plugins list --group solvers``) or a configured :class:`vaetk.darcy.solvers.Solver` instance.
    n_threads : int, optional
        Threads for batch-parallel solvers (see :func:`vaetk.effective_n_threads`).
    source_quadrature : {"node", "cell"}, optional
        How the default wells become node values (see :func:`vaetk.darcy.paper_source`); defaults to "node" for
        the paper scheme (the authors' data) and "cell" (exact) for the conservative scheme.
    tol : float, optional
        Relative residual tolerance of iterative solvers (default: the solver config's, 1e-10 for the built-ins),
        raised on fine grids to what double precision attains there (:func:`vaetk.darcy.solvers.attainable_tol`:
        from n = 169 on; the tolerance used is in ``info.tol``). Direct solvers ignore it.
    return_info : bool
        Also return a :class:`SolveInfo`.
    device : {"auto", "cpu", "cuda", "cuda:N"}, optional
        Solve with the device-generic ``torch`` solver on this device (float64; the velocity and trust measures
        are still computed on the CPU, from the same pressure). ``solver`` must then be ``"auto"``, ``"torch"``
        or a solver instance with a ``device`` setting, else ConfigError; asking for a CUDA device on a
        machine without one is a ConfigError that says what is available. None: ``solver`` as given.

    Returns
    -------
    fields : ndarray of shape (N, 3, n, n), float64
        [p, u_x, u_y] per sample.
    info : SolveInfo
        Only with ``return_info=True``.
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"Unknown scheme {scheme!r}.{did_you_mean(scheme, SCHEMES)} Available: {', '.join(SCHEMES)}.")
    quadrature = DEFAULT_QUADRATURE[scheme] if source_quadrature is None else source_quadrature
    if quadrature not in QUADRATURES:
        raise ConfigError(
            f"Unknown source_quadrature {quadrature!r}.{did_you_mean(quadrature, QUADRATURES)} "
            f"Available: {', '.join(QUADRATURES)}."
        )
    name, instance = resolve_solver(solver, scheme) if device is None else _device_solver(solver, scheme, device)
    used = instance.resolved_device() if hasattr(instance, "resolved_device") else "cpu"  # fails early, clearly
    K = _as_batch(permeability, "permeability")
    _check_permeability(K)
    batch, n = K.shape[0], K.shape[1]
    from vaetk._memory import check_memory, darcy_solve_bytes

    check_memory(darcy_solve_bytes(n, batch, 0), f"solving {batch} sample(s) on a {n} x {n} grid",
                 "Solve the batch in smaller pieces.")
    f = np.ascontiguousarray(_resolve_source(source, n, batch, quadrature))

    result = instance.solve_batch(K, f, scheme, tol=tol, n_threads=n_threads)
    fields = np.empty((batch, 3, n, n))
    fields[:, 0] = result.pressure
    fields[:, 1:] = velocity(fields[:, 0], K, scheme, n_threads)
    if not return_info:
        return fields
    mass, mean = trust_measures(fields, K, f, n_threads)
    info = SolveInfo(solver=name, scheme=scheme, source_quadrature=quadrature,
                     tol=instance.effective_tol(tol, n) if instance.iterative else 0.0,
                     residual=np.asarray(result.residual, dtype=float),
                     iterations=np.asarray(result.iterations, dtype=np.int64), mass_balance=mass, zero_mean=mean,
                     device=used)
    _warn_if_untrusted(info)
    return fields, info


# Mass-balance errors (relative to the injection) beyond which a solution is flagged. The conservative scheme
# balances to solver precision (measured on KLE fields, n = 33-129: <= 5e-12); the paper scheme is not conservative
# and loses O(h^2) of the injection on smooth fields (<= 1.9e-3 at n = 33 with theta up to 3 sigma, 2.6e-4 at
# n = 65), but whole multiples of it on rough or high-contrast fields (80x with white-noise log K of variance 1),
# where its solution, exact for its own equations, no longer describes the flow.
MASS_BALANCE_LIMIT = {"conservative": 1e-6, "paper": 0.05}


class UntrustedSolutionWarning(VaetkWarning):
    """Solutions whose trust measures fail their limits (see :data:`MASS_BALANCE_LIMIT`)."""


def _warn_if_untrusted(info: SolveInfo) -> None:
    limit = MASS_BALANCE_LIMIT[info.scheme]
    bad = info.untrusted
    if bad.size:
        worst = int(bad[np.argmax(np.where(np.isnan(info.mass_balance[bad]), np.inf, info.mass_balance[bad]))])
        advice = ("the paper scheme is not conservative, and on rough or high-contrast permeability its solution "
                  "no longer balances the flow: use scheme='conservative'" if info.scheme == "paper" else
                  "the solve did not reach the scheme's own balance: tighten tol or try another solver")
        warnings.warn(f"{bad.size} of {info.mass_balance.size} solution(s) fail the mass-balance check (limit "
                      f"{limit:g} of the injected flow; worst: sample {worst}, {info.mass_balance[worst]:.3g}): "
                      f"{advice}. The samples are listed by SolveInfo.untrusted.", UntrustedSolutionWarning,
                      stacklevel=3)
