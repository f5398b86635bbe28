"""The ``torch`` solver: the native solver's multigrid-preconditioned CG / GMRES as batched torch operations.

The same code runs on the CPU and on a CUDA device (``device``), float64 throughout; see
:mod:`vaetk.darcy._torch_solver` for the method. Geometric V-cycle (vertex coarsening by two for any n, bilinear
prolongation, rediscretised or Galerkin coarse operators, red-black / four-colour Gauss-Seidel, dense coarsest
solve) preconditioning CG (conservative scheme) or restarted GMRES (paper scheme); every sample of a chunk of the
batch is solved at once. On the CPU it is slower than ``native``: it exists for GPUs (``solve(..., device="cuda")``
picks it). torch and the CUDA device are looked up when a batch is solved, not when the solver is configured, so a
configuration written for a GPU machine still parses elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vaetk.plugin import Solver, SolverResult, check_device, check_param, raise_if_unconverged


class TorchSolver(Solver):
    """Multigrid-preconditioned CG (conservative) or GMRES (paper) in torch, batched, on the CPU or a GPU."""

    name = "torch"
    iterative = True

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of the torch solver.

        Attributes
        ----------
        tol : float
            Relative residual of the bordered system to reach.
        maxiter : int
            Krylov iterations at most (typically 8-20 CG or 10-25 GMRES steps are needed).
        device : str
            ``"auto"`` (the current CUDA device if there is one, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. Checked against the machine when a batch is solved (a ConfigError says what is there).
        batch_size : int, optional
            Samples solved at once (memory control: GMRES holds about 45 vectors of n^2 doubles per sample).
            None: 2^24 nodes per chunk on a GPU (n = 65: 3971 samples, 129: 1008, 257: 254, 513: 63), 2^20 on
            the CPU.
        pre_sweeps, post_sweeps : int
            Gauss-Seidel sweeps per level before / after the coarse correction (equal: symmetric V-cycle).
        coarse_nodes : int
            Coarsen until at most this many nodes per side remain, then solve densely.
        coarsening : {"rediscretize", "galerkin"}
            Coarse operators of the conservative scheme (as ``native``); the paper scheme always uses Galerkin.
        """

        tol: float = 1e-10
        maxiter: int = 100
        device: str = "auto"
        batch_size: int | None = None
        pre_sweeps: int = 1
        post_sweeps: int = 1
        coarse_nodes: int = 5
        coarsening: Literal["rediscretize", "galerkin"] = "rediscretize"

        def __post_init__(self) -> None:
            owner = "solver 'torch'"
            check_param(0 < self.tol < 1, "tol", "a number in (0, 1)", self.tol, owner)
            check_param(self.maxiter >= 1, "maxiter", "an int >= 1", self.maxiter, owner)
            check_device(self.device, owner)
            check_param(self.batch_size is None or self.batch_size >= 1, "batch_size", "an int >= 1 or None",
                        self.batch_size, owner)
            check_param(self.pre_sweeps >= 0, "pre_sweeps", "an int >= 0", self.pre_sweeps, owner)
            check_param(self.post_sweeps >= 0, "post_sweeps", "an int >= 0", self.post_sweeps, owner)
            check_param(self.pre_sweeps + self.post_sweeps >= 1, "pre_sweeps", "such that pre_sweeps + "
                        "post_sweeps >= 1 (a V-cycle without smoothing does not converge)", self.pre_sweeps, owner)
            check_param(3 <= self.coarse_nodes <= 33, "coarse_nodes", "an int in [3, 33]", self.coarse_nodes, owner)
            check_param(self.coarsening in ("rediscretize", "galerkin"), "coarsening",
                        "one of 'rediscretize', 'galerkin'", self.coarsening, owner)

    @classmethod
    def example_config(cls) -> Config:
        return cls.Config(device="cpu")  # the contract checks compare results bit for bit: one device

    def supports(self, scheme: str) -> bool:
        return scheme in ("conservative", "paper")

    def resolved_device(self) -> str:
        """The device this machine gives for ``config.device`` (e.g. ``"cpu"``, ``"cuda:0"``).

        Raises
        ------
        ConfigError
            No such device here.
        """
        from vaetk.plugin import resolve_device

        device = resolve_device(self.config.device)
        if device.type == "cuda" and device.index is None:
            import torch

            device = torch.device("cuda", torch.cuda.current_device())
        return str(device)

    def solve_batch(
        self,
        permeability: np.ndarray,
        source: np.ndarray,
        scheme: str,
        *,
        tol: float | None = None,
        n_threads: int | None = None,
    ) -> SolverResult:
        """Solve in chunks of ``batch_size`` on the configured device; ``n_threads`` is not used (torch's own
        intra-op threads do the CPU work)."""
        import torch

        from vaetk.plugin import auto_batch_size, torch_solve

        tol = self.effective_tol(tol, permeability.shape[-1])
        c = self.config
        device = torch.device(self.resolved_device())
        batch, n = permeability.shape[0], permeability.shape[-1]
        size = c.batch_size or auto_batch_size(n, device)
        pressure = np.empty((batch, n, n))
        residual = np.empty(batch)
        iterations = np.empty(batch, dtype=np.int64)
        for start in range(0, batch, size):
            stop = min(start + size, batch)
            K = torch.tensor(permeability[start:stop], dtype=torch.float64, device=device)  # copies: sources
            f = torch.tensor(source[start:stop], dtype=torch.float64, device=device)  # may be read-only views
            p, res, it = torch_solve(K, f, scheme, tol=tol, maxiter=c.maxiter, pre_sweeps=c.pre_sweeps,
                                     post_sweeps=c.post_sweeps, coarse_nodes=c.coarse_nodes, coarsening=c.coarsening)
            pressure[start:stop] = p.cpu().numpy()
            residual[start:stop] = res.cpu().numpy()
            iterations[start:stop] = it.cpu().numpy()
        raise_if_unconverged(residual, iterations, tol, "torch", c.maxiter)
        return SolverResult(pressure, residual, iterations)
