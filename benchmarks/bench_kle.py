"""KLE basis construction (no cache): FFT + sector Lanczos against the dense eigensolver it replaces.

Run: ``pytest benchmarks/bench_kle.py --benchmark-only``. Targets (issue 2): s = 100 at n = 257 under 30 s,
at n = 65 under 1 s.
"""

from __future__ import annotations

import pytest

from vaetk.darcy import kle_basis


@pytest.mark.parametrize(("n", "n_modes"), [(65, 2), (65, 100), (129, 100), (257, 100)])
def test_kle_lanczos(benchmark, n: int, n_modes: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"kle n={n} s={n_modes}"
    basis = benchmark.pedantic(kle_basis, args=(n,), kwargs={"n_modes": n_modes, "cache": False,
                                                             "method": "lanczos"}, rounds=3, iterations=1)
    assert basis.n_modes == n_modes


@pytest.mark.parametrize("n", [33, 65])
def test_kle_dense_baseline(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"kle n={n} s=100"
    basis = benchmark.pedantic(kle_basis, args=(n,), kwargs={"n_modes": 100, "cache": False, "method": "dense"},
                               rounds=1, iterations=1)
    assert basis.n_modes == 100
