"""Darcy end to end, theta -> fields (no disk), per sample: vaetk's native path against the scipy and pyamg ways.

Run: ``pytest benchmarks/bench_solvers.py --benchmark-only -p no:randomly`` (add ``--benchmark-json FILE`` to keep
the numbers). Every group has one baseline measured in the same run, and the summary at the end prints each case
as a speed-up over it (``benchmarks/conftest.py``).

Cases (KLE2, theta ~ N(0, I), the paper's wells; tol 1e-10 for iterative solvers):
- ``scipy``: vectorised NumPy sparse assembly + ``scipy.sparse.linalg.spsolve`` of the bordered system + NumPy
  velocity (``vaetk.darcy._reference.reference_solve``).
- ``pyamg``: the same assembly, then per sample a smoothed-aggregation setup and AMG-preconditioned CG.
- ``native-1t`` / ``native-2t``: ``vaetk.darcy.solve`` with the default solver (C++ matrix-free multigrid CG, or
  GMRES for the paper scheme, and C++ velocity) on 1 and 2 threads; ``direct``: C++ assembly + SuperLU with a
  reused ordering.
- ``torch-cpu``: ``vaetk.darcy.solve(..., device="cpu")``, the device-generic torch solver (the native method as
  batched tensor operations, written for GPUs) on the CPU, torch on one thread. Its own groups
  (``test_torch_against_native``) have ``native-1t`` as the baseline, so the summary prints torch's speed as a
  ratio to native measured in the same run. Speed on the CPU is not its purpose: the ratio tracks overheads.

Issue-2 targets: conservative n = 65 and 129: native-1t >= 10x scipy; n = 257: native >= 5x pyamg; native-2t >=
1.7x native-1t; paper n = 65: >= 5x scipy. On a shared machine the thread scaling is noisy.
"""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.darcy import kle_basis, paper_source, solve
from vaetk.darcy._reference import assemble_conservative, reference_solve, reference_velocity
from vaetk.darcy._sources import trapezoid_weights

BATCH = {65: 8, 129: 4, 257: 2}


def _problem(n: int, scheme: str = "conservative") -> tuple:
    basis = kle_basis(n, n_modes=2)
    theta = np.random.default_rng(n).standard_normal((BATCH[n], 2))
    quadrature = "cell" if scheme == "conservative" else "node"
    return basis, theta, paper_source(n, quadrature=quadrature)


def scipy_pipeline(basis, theta, f, scheme):  # type: ignore[no-untyped-def]
    K = basis.permeability(theta)
    return np.stack([reference_solve(k, f, scheme)[0] for k in K])


def pyamg_pipeline(basis, theta, f, scheme):  # type: ignore[no-untyped-def]
    import pyamg
    import scipy.sparse.linalg as spla

    K = basis.permeability(theta)
    n = K.shape[-1]
    w = trapezoid_weights(n).ravel()
    out = np.empty((len(K), 3, n, n))
    for s, k in enumerate(K):
        A = assemble_conservative(k)
        rhs = w * f.ravel()
        b = rhs - rhs.sum() * w
        ml = pyamg.smoothed_aggregation_solver(A, smooth=("jacobi", {"omega": 4 / 3, "weighting": "local"}))
        cycle = ml.aspreconditioner(cycle="V")
        M = spla.LinearOperator(A.shape, matvec=lambda r, cycle=cycle: (lambda z: z - z.mean())(cycle @ r))
        x, info = spla.cg(A, b, rtol=1e-10 * np.linalg.norm(rhs) / np.linalg.norm(b), atol=0.0, maxiter=500, M=M)
        assert info == 0
        p = (x - w @ x).reshape(n, n)
        out[s, 0], out[s, 1:] = p, reference_velocity(p, k, scheme)
    return out


def vaetk_pipeline(basis, theta, f, scheme, solver="auto", n_threads=1, device=None):  # type: ignore[no-untyped-def]
    return solve(basis.permeability(theta), f, scheme=scheme, solver=solver, n_threads=n_threads, device=device)


def _one_torch_thread(fn, *args):  # type: ignore[no-untyped-def]
    """fn(*args) with torch on one intra-op thread, like native-1t (the torch solver ignores n_threads)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(threads)


CASES = {
    "scipy": scipy_pipeline,
    "pyamg": pyamg_pipeline,
    "native-1t": lambda b, t, f, s: vaetk_pipeline(b, t, f, s, "native", 1),
    "native-2t": lambda b, t, f, s: vaetk_pipeline(b, t, f, s, "native", 2),
    "direct": lambda b, t, f, s: vaetk_pipeline(b, t, f, s, "direct", 1),
    "torch-cpu": lambda b, t, f, s: _one_torch_thread(vaetk_pipeline, b, t, f, s, "auto", 1, "cpu"),
}

PARAMS = [
    ("conservative", 65, "scipy", ["pyamg", "native-1t", "native-2t"]),
    ("conservative", 129, "scipy", ["pyamg", "native-1t", "native-2t"]),
    ("conservative", 257, "pyamg", ["native-1t", "native-2t"]),
    ("paper", 65, "scipy", ["direct", "native-1t", "native-2t"]),
]


@pytest.mark.parametrize(("scheme", "n", "case", "baseline"), [
    pytest.param(scheme, n, case, case == base, id=f"{scheme}-n{n}-{case}")
    for scheme, n, base, others in PARAMS for case in [base, *others]
])
def test_theta_to_fields(benchmark, scheme: str, n: int, case: str, baseline: bool) -> None:  # type: ignore[no-untyped-def]
    basis, theta, f = _problem(n, scheme)
    benchmark.group = f"{scheme} n={n} (per batch of {BATCH[n]})"
    benchmark.extra_info.update(baseline=baseline, case=case, batch=BATCH[n])
    fields = benchmark.pedantic(CASES[case], args=(basis, theta, f, scheme), rounds=5, iterations=1,
                                warmup_rounds=1)
    expected = scipy_pipeline(basis, theta[:1], f, scheme)[0]
    np.testing.assert_allclose(fields[0], expected, rtol=0, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize(("scheme", "n", "case"), [
    pytest.param(scheme, n, case, id=f"{scheme}-n{n}-{case}")
    for scheme in ("conservative", "paper") for n in (65, 129) for case in ("native-1t", "torch-cpu")
])
def test_torch_against_native(benchmark, scheme: str, n: int, case: str) -> None:  # type: ignore[no-untyped-def]
    basis, theta, f = _problem(n, scheme)
    benchmark.group = f"{scheme} n={n}: torch (cpu) against native (per batch of {BATCH[n]})"
    benchmark.extra_info.update(baseline=case == "native-1t", case=case, batch=BATCH[n])
    fields = benchmark.pedantic(CASES[case], args=(basis, theta, f, scheme), rounds=5, iterations=1,
                                warmup_rounds=1)
    expected = vaetk_pipeline(basis, theta, f, scheme, "native", 1)
    np.testing.assert_allclose(fields, expected, rtol=0, atol=1e-8 * np.abs(expected).max())
