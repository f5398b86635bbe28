"""``vaetk solve``: solve a batch of KLE2 Darcy problems and print a summary with timings.

The work is done by :func:`solve_summary`, which other commands (``vaetk demo``) reuse.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

from vaetk.cli._options import DeprecatedAlias

HELP = "solve a batch of KLE2 Darcy problems (theta ~ N(0, I)) and print a summary with timings"


@dataclass(frozen=True)
class SolveSummary:
    """What :func:`solve_summary` measured.

    Attributes
    ----------
    n_grid, n_samples, seed, n_modes : int
        The problem: ``n_samples`` fields on an ``n_grid`` x ``n_grid`` node grid from ``n_modes`` KLE modes.
    scheme, solver : str
        Scheme and resolved solver name.
    threads : int
        Threads used by the batch-parallel kernels.
    basis_seconds : float
        Time to get the KLE basis (disk cache or eigensolver).
    permeability_seconds, solve_seconds : float
        theta -> K, and K -> fields (assembly, solve, velocity, trust measures), for the whole batch.
    per_sample_ms : float
        (permeability_seconds + solve_seconds) / n_samples in milliseconds: theta -> fields per sample.
    iterations_mean, iterations_max : float, int
        Solver iterations (0 for direct solvers).
    tol, residual_max, mass_balance_max, zero_mean_max : float
        Tolerance requested and the worst trust measures over the batch (see :class:`vaetk.darcy._solve.SolveInfo`).
    pressure_min, pressure_max : float
        Range of the pressure over the batch.
    """

    n_grid: int
    n_samples: int
    seed: int
    n_modes: int
    scheme: str
    solver: str
    threads: int
    basis_seconds: float
    permeability_seconds: float
    solve_seconds: float
    per_sample_ms: float
    iterations_mean: float
    iterations_max: int
    tol: float
    residual_max: float
    mass_balance_max: float
    zero_mean_max: float
    pressure_min: float
    pressure_max: float
    device: str = "cpu"

    def lines(self) -> list[str]:
        """Human-readable summary, one item per line."""
        tol = f" (tol {self.tol:.0e})" if self.tol else " (direct solver)"
        return [
            f"{self.n_samples} KLE{self.n_modes} samples on a {self.n_grid} x {self.n_grid} grid, {self.scheme} "
            f"scheme, solver {self.solver!r} on {self.device}, {self.threads} thread(s), seed {self.seed}",
            f"  KLE basis          {self.basis_seconds:8.3f} s",
            f"  theta -> K         {self.permeability_seconds * 1e3:8.2f} ms for the batch",
            f"  solve + velocity   {self.solve_seconds * 1e3:8.2f} ms for the batch",
            f"  per sample         {self.per_sample_ms:8.3f} ms (theta -> fields)",
            f"  iterations         mean {self.iterations_mean:.1f}, max {self.iterations_max}",
            f"  residual max       {self.residual_max:.2e}{tol}",
            f"  mass balance max   {self.mass_balance_max:.2e} (relative to the injection)",
            f"  zero mean max      {self.zero_mean_max:.2e}",
            f"  pressure range     [{self.pressure_min:.4f}, {self.pressure_max:.4f}]",
        ]


def solve_summary(
    n_grid: int = 65,
    n_samples: int = 64,
    *,
    seed: int = 0,
    n_modes: int = 2,
    scheme: str = "conservative",
    solver: str = "auto",
    n_threads: int | None = None,
    device: str | None = None,
    tol: float | None = None,
) -> SolveSummary:
    """Solve ``n_samples`` KLE Darcy problems (the paper's wells, theta ~ N(0, I)) and measure it.

    Parameters
    ----------
    n_grid : int
        Nodes per side (>= 3).
    n_samples : int
        Batch size (>= 1).
    seed : int
        Root seed: theta is that of the first ``n_samples`` training samples of a standard-normal dataset
        generated with this seed (:func:`vaetk.data._generate.sample_theta`), so sample i does not depend on
        the batch size.
    n_modes : int
        KLE modes (2: KLE2).
    scheme, solver, n_threads, tol
        Passed to :func:`vaetk.darcy.solve`.

    Returns
    -------
    SolveSummary
    """
    from vaetk._threads import effective_n_threads
    from vaetk._validation import is_int
    from vaetk.config import check_param
    from vaetk.darcy import kle_basis, solve
    from vaetk.data._generate import sample_theta
    from vaetk.distributions import create

    owner = "solve_summary()"
    check_param(is_int(n_grid, 3), "n_grid", "an int >= 3", n_grid, owner)
    check_param(is_int(n_samples, 1), "n_samples", "an int >= 1", n_samples, owner)
    check_param(is_int(seed, 0), "seed", "an int >= 0", seed, owner)
    threads = effective_n_threads(n_threads)
    from vaetk._memory import check_memory, darcy_solve_bytes  # before anything is allocated (issue 15)

    check_memory(darcy_solve_bytes(n_grid, n_samples, n_modes),
                 f"solving {n_samples} sample(s) on a {n_grid} x {n_grid} grid",
                 "Use a smaller grid (--n) or fewer samples (--n-samples).")

    start = time.perf_counter()
    basis = kle_basis(n_grid, n_modes=n_modes)
    basis_seconds = time.perf_counter() - start
    theta = sample_theta(create("standard_normal", {"dim": n_modes}), seed, "train", 0, n_samples)

    start = time.perf_counter()
    K = basis.permeability(theta)
    permeability_seconds = time.perf_counter() - start
    start = time.perf_counter()
    fields, info = solve(K, scheme=scheme, solver=solver, n_threads=threads, tol=tol, return_info=True,
                         device=device)
    solve_seconds = time.perf_counter() - start

    return SolveSummary(
        n_grid=n_grid, n_samples=n_samples, seed=seed, n_modes=n_modes, scheme=scheme, solver=info.solver,
        threads=threads, basis_seconds=basis_seconds, permeability_seconds=permeability_seconds,
        solve_seconds=solve_seconds, per_sample_ms=(permeability_seconds + solve_seconds) / n_samples * 1e3,
        iterations_mean=float(info.iterations.mean()), iterations_max=int(info.iterations.max()), tol=info.tol,
        residual_max=float(info.residual.max()), mass_balance_max=float(info.mass_balance.max()),
        zero_mean_max=float(info.zero_mean.max()), pressure_min=float(fields[:, 0].min()),
        pressure_max=float(fields[:, 0].max()), device=info.device,
    )


def add_solve_arguments(parser: argparse.ArgumentParser, *, n_samples: int = 64) -> None:
    """The options of ``vaetk solve``."""
    parser.add_argument("--n", dest="n_grid", type=int, default=65, metavar="N",
                        help="grid nodes per side (default 65)")
    parser.add_argument("--n-grid", dest="n_grid", type=int, metavar="N", action=DeprecatedAlias, replacement="--n")
    parser.add_argument("--n-samples", type=int, default=n_samples, metavar="N",
                        help=f"samples in the batch (default {n_samples})")
    parser.add_argument("--seed", type=int, default=0, help="root seed of theta (default 0)")
    parser.add_argument("--scheme", default="conservative", help="'conservative' (default) or 'paper'")
    parser.add_argument("--solver", default="auto",
                        help="'auto' (default) or a solver plugin name; see `vaetk plugins list --group solvers`")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="threads for the kernels (default: OMP_NUM_THREADS or all CPUs; -1 all)")
    parser.add_argument("--tol", type=float, default=None, help="relative residual of iterative solvers")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="solve with the torch solver on this device: cpu, cuda, cuda:N or auto (default: the "
                             "native CPU solver)")


def summary_from_args(args: argparse.Namespace) -> SolveSummary:
    from vaetk._threads import effective_n_threads

    effective_n_threads(args.threads, source="--threads")  # an absurd count is an error naming the flag
    return solve_summary(args.n_grid, args.n_samples, seed=args.seed, scheme=args.scheme, solver=args.solver,
                         n_threads=args.threads, tol=args.tol, device=args.device)


def populate_parser(parser: argparse.ArgumentParser) -> None:
    add_solve_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    summary = summary_from_args(args)
    if args.json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print("\n".join(summary.lines()))
    return 0
