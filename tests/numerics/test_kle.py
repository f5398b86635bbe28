"""The KLE basis: eigenvalues against a dense eigensolver, the degenerate-eigenspace convention, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse.linalg as spla

from vaetk.darcy import _kle, kle_basis
from vaetk.darcy._kle import canonicalize, covariance_matrix
from vaetk.errors import ConfigError


def test_eigenvalues_match_the_authors_at_n65() -> None:
    # docs/design.md, section 8.1: the authors' top discrete eigenvalues at n = 65, l = 0.1, variance 1.
    basis = kle_basis(65, n_modes=5, cache=False)
    np.testing.assert_allclose(basis.eigenvalues, [214.54, 167.97, 167.97, 134.91, 118.82], atol=6e-3)
    assert basis.eigenvalues[1] == basis.eigenvalues[2]  # exactly degenerate


@pytest.mark.parametrize("n", [9, 24, 33])
def test_eigenvalues_against_numpy_dense(n: int) -> None:
    reference = np.linalg.eigvalsh(covariance_matrix(n, 0.1))[::-1]
    for method in ("dense", "lanczos"):
        basis = kle_basis(n, n_modes=20, method=method, cache=False)
        # ARPACK at tol 1e-13 and LAPACK agree to a few ulps of the largest eigenvalue
        np.testing.assert_allclose(basis.eigenvalues, reference[:20], rtol=0, atol=1e-11 * reference[0])


def test_modes_are_orthonormal_eigenvectors() -> None:
    n = 33
    basis = kle_basis(n, n_modes=12, method="lanczos", cache=False)
    flat = basis.modes.reshape(12, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(12), atol=1e-12)
    applied = flat @ covariance_matrix(n, 0.1)
    np.testing.assert_allclose(applied, basis.eigenvalues[:, None] * flat, atol=1e-10)


def test_full_expansion_reproduces_the_covariance() -> None:
    # With all n^2 modes, Phi Lambda Phi^T is the covariance exactly (variance 2, length scale 0.3).
    n = 7
    basis = kle_basis(n, n_modes=n * n, length_scale=0.3, variance=2.0, cache=False)
    flat = basis.modes.reshape(n * n, -1)
    np.testing.assert_allclose(flat.T @ (basis.eigenvalues[:, None] * flat), covariance_matrix(n, 0.3, 2.0),
                               atol=1e-12)


def test_convention_fixes_the_degenerate_pair() -> None:
    basis = kle_basis(65, n_modes=3, cache=False)
    second, third = basis.modes[1], basis.modes[2]
    np.testing.assert_array_equal(third, second.T)  # the eo mode is the transpose of the oe mode
    np.testing.assert_allclose(second, -second[:, ::-1], atol=1e-14)  # odd in x
    np.testing.assert_allclose(second, second[::-1, :], atol=1e-14)  # even in y
    assert second[:, :32].sum() > 0  # sign: positive on the left half (inner product with g)
    assert basis.modes[0].sum() > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_basis_from_other_solvers_and_start_vectors(seed: int) -> None:
    """Unrestricted ARPACK with a random start vector, and LAPACK with random rotations inside each eigenspace,
    give the same basis once canonicalised."""
    n, s = 33, 10
    expected = kle_basis(n, n_modes=s, cache=False)
    rng = np.random.default_rng(seed)
    cov = covariance_matrix(n, 0.1)
    values, vectors = spla.eigsh(cov, k=s + 4, which="LA", v0=rng.standard_normal(n * n), tol=1e-14)
    values, vectors = _drop_lowest_cluster(values, vectors)
    got_values, got_modes = canonicalize(values, vectors.T.reshape(-1, n, n))
    np.testing.assert_allclose(got_values[:s], expected.eigenvalues, rtol=1e-12)
    np.testing.assert_allclose(got_modes[:s], expected.modes, atol=1e-9)

    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1][: s + 4], vectors[:, ::-1][:, : s + 4]
    for start in range(0, s + 3):  # scramble every exactly-degenerate pair with a random rotation and signs
        if abs(values[start] - values[start + 1]) < 1e-9 * values[0]:
            angle = rng.uniform(0, 2 * np.pi)
            rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
            vectors[:, start:start + 2] = vectors[:, start:start + 2] @ rot
    vectors *= rng.choice([-1.0, 1.0], size=vectors.shape[1])
    values, vectors = _drop_lowest_cluster(values, vectors)
    got_values, got_modes = canonicalize(values, vectors.T.reshape(-1, n, n))
    np.testing.assert_allclose(got_modes[:s], expected.modes, atol=1e-9)


def _drop_lowest_cluster(values: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A truncated eigensolve may cut a degenerate pair in half; canonicalize needs complete clusters."""
    keep = values > values.min() * (1 + 1e-8)
    return values[keep], vectors[:, keep]


def test_permeability_is_exp_of_the_expansion(rng: np.random.Generator) -> None:
    basis = kle_basis(17, n_modes=4, mean=0.5, variance=2.0, cache=False)
    theta = rng.standard_normal((3, 4))
    expected = 0.5 + np.einsum("ns,sij->nij", theta * np.sqrt(basis.eigenvalues), basis.modes)
    np.testing.assert_allclose(basis.log_permeability(theta), expected, rtol=1e-14)
    np.testing.assert_allclose(basis.permeability(theta), np.exp(expected), rtol=1e-14)
    assert basis.permeability(theta).shape == (3, 17, 17)
    unit = kle_basis(17, n_modes=4, cache=False)
    np.testing.assert_allclose(basis.eigenvalues, 2.0 * unit.eigenvalues, rtol=1e-14)


class TestCache:
    def test_hit_reuses_the_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        first = kle_basis(45, n_modes=6, cache=tmp_path)
        files = list(tmp_path.iterdir())
        assert len(files) == 1
        monkeypatch.setattr(_kle, "_lanczos_eigenpairs", _must_not_run)
        second = kle_basis(45, n_modes=4, cache=tmp_path)  # fewer modes: served from the file
        np.testing.assert_array_equal(second.modes, first.modes[:4])

    def test_environment_variable_selects_or_disables(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("VAETK_CACHE_DIR", str(tmp_path))
        kle_basis(11, n_modes=2)
        assert list((tmp_path / "kle").iterdir())
        monkeypatch.setenv("VAETK_CACHE_DIR", "")
        assert _kle._cache_dir(True) is None

    def test_invalidation(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        kle_basis(45, n_modes=3, cache=tmp_path)
        calls = []
        real = _kle._lanczos_eigenpairs
        monkeypatch.setattr(_kle, "_lanczos_eigenpairs", lambda *a: calls.append(a) or real(*a))
        kle_basis(45, n_modes=3, length_scale=0.2, cache=tmp_path)  # other parameters: other file
        assert len(calls) == 1 and len(list(tmp_path.iterdir())) == 2
        kle_basis(45, n_modes=30, cache=tmp_path)  # more modes than cached: recomputed, file replaced
        assert len(calls) == 2
        path = _kle._cache_path(tmp_path, 45, 0.1)
        path.write_bytes(path.read_bytes()[:100])  # truncated file: recomputed, not an error
        basis = kle_basis(45, n_modes=3, cache=tmp_path)
        assert len(calls) == 3 and basis.n_modes == 3
        monkeypatch.setattr(_kle, "_ALGORITHM_VERSION", _kle._ALGORITHM_VERSION + 1)
        kle_basis(45, n_modes=3, cache=tmp_path)  # a new algorithm version ignores old files
        assert len(calls) == 4

    def test_unwritable_cache_does_not_break(self, tmp_path: Path) -> None:
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        assert kle_basis(11, n_modes=2, cache=blocker / "sub").n_modes == 2


def _must_not_run(*args: object) -> None:
    raise AssertionError("the cache should have been used")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 2, "n_modes": 1}, "'n' parameter"),
    ({"n": 5, "n_modes": 26}, r"'n_modes' parameter .* n\^2 = 25"),
    ({"n": 5, "n_modes": 0}, "'n_modes' parameter"),
    ({"n": 5, "n_modes": 2, "length_scale": -1.0}, "'length_scale' parameter"),
    ({"n": 5, "n_modes": 2, "method": "arpack"}, "'method' parameter"),
])
def test_bad_parameters(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        kle_basis(cache=False, **kwargs)


def test_bad_theta() -> None:
    basis = kle_basis(9, n_modes=2, cache=False)
    with pytest.raises(ConfigError, match=r"shape \(N, 2\).*got shape \(3,\)"):
        basis.permeability([1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match="NaN"):
        basis.permeability([[1.0, np.nan]])


@pytest.mark.slow
def test_large_grid_without_a_dense_matrix() -> None:
    basis = kle_basis(257, n_modes=100, cache=False)
    assert basis.eigenvalues[1] == basis.eigenvalues[2]
    flat = basis.modes.reshape(100, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(100), atol=1e-10)
