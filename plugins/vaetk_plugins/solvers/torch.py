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
from typing import ClassVar

import numpy as np

from vaetk.plugin import Solver, SolverResult, check_device, check_param, raise_if_unconverged
from vaetk_plugins.solvers.native import NativeSolver


class TorchSolver(Solver):
    """Multigrid-preconditioned CG (conservative) or GMRES (paper) in torch, batched, on the CPU or a GPU."""

    name = "torch"
    iterative = True

    @dataclass(frozen=True, kw_only=True)
    class Config(NativeSolver.Config):
        """Parameters of the torch solver: the native solver's (``tol``, ``maxiter``, ``pre_sweeps``,
        ``post_sweeps``, ``coarse_nodes``, ``coarsening``; the paper scheme always uses Galerkin coarse levels
        here), and where and how much at once.

        Attributes
        ----------
        device : str
            ``"auto"`` (the current CUDA device if there is one, else the CPU), ``"cpu"``, ``"cuda"`` or
            ``"cuda:N"``. Checked against the machine when a batch is solved (a ConfigError says what is there).
        batch_size : int, optional
            Samples solved at once (memory control: GMRES holds about 45 vectors of n^2 doubles per sample).
            None: 2^24 nodes per chunk on a GPU (n = 65: 3971 samples, 129: 1008, 257: 254, 513: 63), 2^20 on
            the CPU.
        """

        device: str = "auto"
        batch_size: int | None = None
        owner: ClassVar[str] = "solver 'torch'"

        def __post_init__(self) -> None:
            super().__post_init__()
            check_device(self.device, self.owner)
            check_param(self.batch_size is None or self.batch_size >= 1, "batch_size", "an int >= 1 or None",
                        self.batch_size, self.owner)

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
