"""The KLE eigenpair cache is verified before use (issue 15): a modified file is recomputed with a warning, never
silently used to build every new dataset on its grid."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from vaetk.darcy import _kle
from vaetk.darcy._kle import KLECacheWarning, kle_basis

N = 21  # dense eigensolver: fast


def _rewrite(path: Path, *, reseal: bool, **change: np.ndarray) -> None:
    """Rewrite the cache file with some arrays changed; ``reseal``: with a matching checksum (a consistent forgery)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(change)
    if reseal:
        arrays["sha256"] = np.array(_kle._pairs_sha256(arrays["values"], arrays["modes"]))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _cached(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    kle_basis(N, n_modes=4, cache=tmp_path)
    path = _kle._cache_path(tmp_path, N, 0.1)
    with np.load(path) as data:
        return path, data["values"].copy(), data["modes"].copy()


def _flip(values: np.ndarray, modes: np.ndarray) -> dict[str, np.ndarray]:
    modes = modes.copy()
    modes[1, 5, 7] *= 1.5  # one node of one mode
    return {"modes": modes}


def _swap(values: np.ndarray, modes: np.ndarray) -> dict[str, np.ndarray]:
    return {"values": values[[1, 0, *range(2, len(values))]]}  # eigenvalues in the wrong order


@pytest.mark.parametrize("reseal", [False, True], ids=["checksum", "forged-checksum"])
@pytest.mark.parametrize("edit", [_flip, _swap])
def test_modified_cache_is_recomputed_with_a_warning(tmp_path: Path, edit, reseal: bool) -> None:
    reference = kle_basis(N, n_modes=4, cache=False)
    path, values, modes = _cached(tmp_path)
    _rewrite(path, reseal=reseal, **edit(values, modes))
    with pytest.warns(KLECacheWarning, match="failed verification .*recomputed"):
        basis = kle_basis(N, n_modes=4, cache=tmp_path)
    np.testing.assert_array_equal(basis.modes, reference.modes)
    np.testing.assert_array_equal(basis.eigenvalues, reference.eigenvalues)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = kle_basis(N, n_modes=4, cache=tmp_path)  # the file was replaced: verified, no warning
    np.testing.assert_array_equal(again.modes, reference.modes)


def test_cache_without_a_checksum_is_recomputed_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, values, modes = _cached(tmp_path)
    with open(path, "wb") as fh:  # as written before checksums were recorded
        np.savez(fh, version=_kle._ALGORITHM_VERSION, n=N, length_scale=0.1, values=values, modes=modes)
    calls = []
    real = _kle._dense_eigenpairs
    monkeypatch.setattr(_kle, "_dense_eigenpairs", lambda *a: calls.append(a) or real(*a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kle_basis(N, n_modes=4, cache=tmp_path)
        kle_basis(N, n_modes=4, cache=tmp_path)
    assert len(calls) == 1  # recomputed once, then served from the new, sealed file


def test_residual_check_passes_for_genuine_bases() -> None:
    for n, modes in ((21, 10), (45, 12)):  # dense and Lanczos
        basis = kle_basis(n, n_modes=modes, cache=False)
        assert _kle._residual_problem(n, 0.1, basis.eigenvalues, basis.modes) is None
