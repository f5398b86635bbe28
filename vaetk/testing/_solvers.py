"""Contract checks for solver plugins (group ``vaetk.solvers``).

The idiom checks (:mod:`vaetk.testing._idiom`) come first; solvers take no construction context, and two solvers
are equal when they support the same schemes and return identical pressures. Each other check builds the solver
from ``plugin.example_config()`` and solves small problems (n = 17, lognormal
permeability from a fixed seed) through :func:`vaetk.darcy.solve` and ``solve_batch``. Tolerances: the pressure
must agree with the pure-NumPy reference (sparse LU) to 1e-6 relative in max norm, which is what a relative
residual of 1e-10 guarantees at n = 17 (condition number of the bordered system below 1e4), with a margin.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vaetk.testing import Check
from vaetk.testing._idiom import idiom_checks

SCHEMES = ("conservative", "paper")
AGREEMENT = 1e-6  # relative max-norm distance to the reference pressure (see the module docstring)


def _problem(batch: int = 2, n: int = 17, seed: int = 20240601) -> tuple[np.ndarray, np.ndarray]:
    from vaetk.darcy import paper_source

    rng = np.random.default_rng(seed)
    K = np.exp(0.7 * rng.standard_normal((batch, n, n)))
    f = np.broadcast_to(paper_source(n, quadrature="cell"), (batch, n, n)).copy()
    f[1:] += 0.5 * rng.standard_normal((batch - 1, n, n))  # also an incompatible (non-zero-mean) source
    return K, f


def _solver(plugin: type):  # type: ignore[no-untyped-def]
    return plugin(plugin.example_config())


def _supported(plugin: type) -> list[str]:
    solver = _solver(plugin)
    return [s for s in SCHEMES if solver.supports(s)]


def _build(plugin: type, config: object):  # type: ignore[no-untyped-def]
    return plugin(config)


def _assert_same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert {s: a.supports(s) for s in SCHEMES} == {s: b.supports(s) for s in SCHEMES}, "supports() differs"
    K, f = _problem(batch=2, n=9)
    scheme = next(s for s in SCHEMES if a.supports(s))
    pa, pb = a.solve_batch(K, f, scheme).pressure, b.solve_batch(K, f, scheme).pressure
    assert np.array_equal(pa, pb), f"{scheme}: the two solvers return different pressures"


def check_iterative_config(plugin: type) -> None:
    if plugin.iterative:
        fields = {f.name for f in dataclasses.fields(plugin.Config)}
        for field in ("tol", "maxiter"):
            assert field in fields, f"an iterative solver's Config must have `{field}`"


def check_supports(plugin: type) -> None:
    solver = _solver(plugin)
    answers = {s: solver.supports(s) for s in SCHEMES}
    assert all(isinstance(v, bool) for v in answers.values()), f"supports() must return bool, got {answers}"
    assert any(answers.values()), "the solver supports neither 'conservative' nor 'paper'"
    assert solver.supports("no_such_scheme") is False, "supports() must be False for an unknown scheme"


def check_agrees_with_reference(plugin: type) -> None:
    import warnings

    from vaetk.darcy import UntrustedSolutionWarning, solve

    K, f = _problem()
    for scheme in _supported(plugin):
        with warnings.catch_warnings():  # rough K: the paper scheme's mass balance is flagged; not what is checked
            warnings.simplefilter("ignore", UntrustedSolutionWarning)
            fields, info = solve(K, f, scheme=scheme, solver=_solver(plugin), return_info=True)
            expected = solve(K, f, scheme=scheme, solver="reference")
        assert fields.shape == expected.shape and fields.dtype == np.float64
        error = np.abs(fields[:, 0] - expected[:, 0]).max() / np.abs(expected[:, 0]).max()
        assert error <= AGREEMENT, f"{scheme}: pressure differs from the reference by {error:.2e} (relative)"
        limit = info.tol if plugin.iterative else 1e-10
        assert np.all(info.residual <= limit), f"{scheme}: reported residuals {info.residual} above {limit:.0e}"
        assert np.all(info.zero_mean < 1e-10), f"{scheme}: pressure mean not zero ({info.zero_mean})"


def check_result_shapes(plugin: type) -> None:
    K, f = _problem(batch=3, n=9)
    scheme = _supported(plugin)[0]
    result = _solver(plugin).solve_batch(K, f, scheme)
    assert result.pressure.shape == (3, 9, 9) and result.pressure.dtype == np.float64
    assert result.residual.shape == (3,) and result.iterations.shape == (3,)
    assert np.issubdtype(result.iterations.dtype, np.integer)


def check_batched_equals_looped(plugin: type) -> None:
    K, f = _problem(batch=3)
    solver = _solver(plugin)
    for scheme in _supported(plugin):
        batched = solver.solve_batch(K, f, scheme).pressure
        looped = np.concatenate([solver.solve_batch(K[s:s + 1], f[s:s + 1], scheme).pressure for s in range(3)])
        error = np.abs(batched - looped).max() / np.abs(looped).max()
        assert error <= 1e-9, f"{scheme}: batched and one-by-one solves differ by {error:.2e}"


def check_thread_count_independent(plugin: type) -> None:
    K, f = _problem(batch=4)
    solver = _solver(plugin)
    scheme = _supported(plugin)[0]
    one = solver.solve_batch(K, f, scheme, n_threads=1).pressure
    two = solver.solve_batch(K, f, scheme, n_threads=2).pressure
    assert np.array_equal(one, two), "results depend on the thread count"


def check_rejects_unsupported_scheme(plugin: type) -> None:
    from vaetk.darcy import solve
    from vaetk.errors import ConfigError

    unsupported = [s for s in SCHEMES if s not in _supported(plugin)]
    K, _ = _problem(batch=1, n=5)
    for scheme in unsupported:
        try:
            solve(K, scheme=scheme, solver=_solver(plugin))
        except ConfigError as exc:
            assert scheme in str(exc), f"the error does not name the scheme: {exc}"
        else:
            raise AssertionError(f"solve(scheme={scheme!r}) with a solver that does not support it did not raise")


def check_non_convergence_names_the_sample(plugin: type) -> None:
    from vaetk.errors import SolverError

    if not plugin.iterative:
        return  # direct solvers have no iteration limit
    config = dataclasses.replace(plugin.example_config(), maxiter=1)
    K, f = _problem(batch=2, n=33)
    scheme = _supported(plugin)[0]
    try:
        plugin(config).solve_batch(K, f, scheme, tol=1e-13)
    except SolverError as exc:
        assert "sample 0" in str(exc), f"the error does not name the sample: {exc}"
    else:
        raise AssertionError("maxiter=1 with tol=1e-13 did not raise SolverError")


CHECKS: list[Check] = [
    *idiom_checks(_build, _assert_same),
    Check("iterative_config", check_iterative_config),
    Check("supports", check_supports),
    Check("result_shapes", check_result_shapes),
    Check("agrees_with_reference", check_agrees_with_reference),
    Check("batched_equals_looped", check_batched_equals_looped),
    Check("thread_count_independent", check_thread_count_independent),
    Check("rejects_unsupported_scheme", check_rejects_unsupported_scheme),
    Check("non_convergence_names_the_sample", check_non_convergence_names_the_sample),
]
