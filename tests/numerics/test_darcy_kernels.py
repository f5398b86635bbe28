"""The compiled Darcy kernels against the pure-NumPy reference: assembly of both schemes, the bordered system,
velocity; batched equals looped; results bit-identical for 1 and 2 threads."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk.darcy import _kernels as kernels
from vaetk.darcy import _reference as ref

ASSEMBLE = {"paper": ref.assemble_paper, "conservative": ref.assemble_conservative}


def _fields(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    return np.exp(rng.standard_normal((batch, n, n)))  # rough, high-contrast: exercises every stencil entry


@pytest.mark.parametrize("scheme", ["paper", "conservative"])
@pytest.mark.parametrize("n", [3, 4, 8, 17])
def test_assembly_matches_reference(scheme: str, n: int, rng: np.random.Generator) -> None:
    K = _fields(rng, 3, n)
    op = kernels.assemble(K, scheme, n_threads=1)
    assert op.data.shape == (3, 5 * n * n - 4 * n)
    for s in range(3):
        expected = ASSEMBLE[scheme](K[s])
        difference = abs(op.matrix(s) - expected).max() / abs(expected).max()
        assert difference <= 1e-12, difference


def test_pattern_is_sorted_csr_of_the_five_point_stencil() -> None:
    n = 6
    indptr, indices = kernels.pattern(n)
    expected = ref.assemble_conservative(np.ones((n, n)))
    expected.sort_indices()
    np.testing.assert_array_equal(indptr, expected.indptr)
    np.testing.assert_array_equal(indices, expected.indices)


@pytest.mark.parametrize("scheme", ["paper", "conservative"])
def test_bordered_system_matches_reference(scheme: str, rng: np.random.Generator) -> None:
    import scipy.sparse as sp

    n = 7
    K = _fields(rng, 2, n)
    indptr, indices, data = kernels.bordered_matrices(kernels.assemble(K, scheme))
    for s in range(2):
        M = sp.csr_matrix((data[s], indices, indptr), shape=(n * n + 1, n * n + 1))
        expected = ref.bordered(ASSEMBLE[scheme](K[s]), n)
        assert abs(M - expected).max() <= 1e-12 * abs(expected).max()


@pytest.mark.parametrize("scheme", ["paper", "conservative"])
@pytest.mark.parametrize("n", [3, 10])
def test_velocity_matches_reference(scheme: str, n: int, rng: np.random.Generator) -> None:
    K, p = _fields(rng, 3, n), rng.standard_normal((3, n, n))
    u = kernels.velocity(p, K, scheme)
    for s in range(3):
        np.testing.assert_allclose(u[s], ref.reference_velocity(p[s], K[s], scheme), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("scheme", ["paper", "conservative"])
def test_batched_equals_looped_and_thread_count_independent(scheme: str, rng: np.random.Generator) -> None:
    K, p = _fields(rng, 5, 12), rng.standard_normal((5, 12, 12))
    data = kernels.assemble(K, scheme, n_threads=2).data
    u = kernels.velocity(p, K, scheme, n_threads=2)
    np.testing.assert_array_equal(data, kernels.assemble(K, scheme, n_threads=1).data)
    np.testing.assert_array_equal(u, kernels.velocity(p, K, scheme, n_threads=1))
    for s in range(5):
        np.testing.assert_array_equal(data[s], kernels.assemble(K[s:s + 1], scheme).data[0])
        np.testing.assert_array_equal(u[s], kernels.velocity(p[s:s + 1], K[s:s + 1], scheme)[0])


def test_multigrid_solver_batched_equals_looped_and_thread_count_independent(rng: np.random.Generator) -> None:
    from vaetk.darcy import paper_source

    n = 21
    K = _fields(rng, 4, n)
    f = np.broadcast_to(paper_source(n, quadrature="cell"), (4, n, n))
    one = kernels.mg_solve_conservative(K, f, tol=1e-10, maxiter=100, n_threads=1)
    two = kernels.mg_solve_conservative(K, f, tol=1e-10, maxiter=100, n_threads=2)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    for s in range(4):
        single = kernels.mg_solve_conservative(K[s:s + 1], f[s:s + 1], tol=1e-10, maxiter=100)
        np.testing.assert_array_equal(single[0][0], one[0][s])


def test_kernels_reject_wrong_shapes() -> None:
    from vaetk._build import core

    with pytest.raises(ValueError, match=r"data: expected shape \(1, 33\), got \(1, 32\)"):
        core().darcy_assemble(np.ones((1, 3, 3)), 1, np.empty((1, 32)), 1)
    with pytest.raises(ValueError, match=r"permeability: expected shape \(batch, n, n\)"):
        core().darcy_assemble(np.ones((3, 4)), 1, np.empty((1, 32)), 1)
