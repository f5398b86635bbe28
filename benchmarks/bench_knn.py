"""k-NN for the WKV estimator (rho_k within x, nu_k from x to y) and a full S_KL evaluation, side by side.

Run: ``pytest benchmarks/bench_knn.py --benchmark-only`` (pytest-benchmark groups each size), or
``python benchmarks/bench_knn.py [--quick]`` for a table of ratios to scipy's cKDTree measured in the same run.
Targets (issue 4): d = 2, k = 5, n = m in {512, 4096, 65536, 262144}: native >= 3x faster than cKDTree
(workers=-1) and faster than faiss-cpu and scikit-learn; d = 10: no slower than cKDTree; S_KL (n = 512, 2-D
mixture) under 50 ms. scikit-learn appears only here (vaetk never imports it).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

K = 5
SIZES_2D = (512, 4096, 65536, 262144)
SIZES_10D = (4096, 32768)
FAISS_MAX_N = 65536  # faiss-cpu is exact brute force: n^2 distances, minutes beyond this


def data(n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([n, d])
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)) * 1.2 + 0.3


def native(x: np.ndarray, y: np.ndarray, threads: int | None = None) -> np.ndarray:
    from vaetk._build import core

    n = x.shape[0]
    rho, nu, li, ki = np.empty(n), np.empty(n), np.empty(n, np.int64), np.empty(n, np.int64)
    core().wkv_terms(x, y, K, False, 0, threads or _threads(), rho, nu, li, ki)
    return nu


def native_1thread(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The native kernel on one thread (on a busy machine a second OpenMP thread can cost more than it saves)."""
    return native(x, y, threads=1)


def _threads() -> int:
    from vaetk._threads import effective_n_threads

    return effective_n_threads(-1)


def scipy_ckdtree(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.spatial import cKDTree

    cKDTree(x).query(x, k=K + 1, workers=-1)
    return cKDTree(y).query(x, k=K, workers=-1)[0][:, -1]


def sklearn_nn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    NearestNeighbors(n_neighbors=K + 1, n_jobs=-1).fit(x).kneighbors(x)
    return NearestNeighbors(n_neighbors=K, n_jobs=-1).fit(y).kneighbors(x)[0][:, -1]


def faiss_flat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    import faiss

    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    ix, iy = faiss.IndexFlatL2(x.shape[1]), faiss.IndexFlatL2(x.shape[1])
    ix.add(x32)
    iy.add(y32)
    ix.search(x32, K + 1)
    return np.sqrt(iy.search(x32, K)[0][:, -1])


IMPLEMENTATIONS = {"native": native, "native_1t": native_1thread, "scipy": scipy_ckdtree, "sklearn": sklearn_nn,
                   "faiss": faiss_flat}


def cases() -> list:
    out = []
    for d, sizes in ((2, SIZES_2D), (10, SIZES_10D)):
        for n in sizes:
            for name in IMPLEMENTATIONS:
                if name == "faiss" and n > FAISS_MAX_N:
                    continue
                out.append(pytest.param(name, n, d, id=f"{name}-d{d}-n{n}"))
    return out


@pytest.mark.parametrize(("impl", "n", "d"), cases())
def test_wkv_neighbours(benchmark, impl: str, n: int, d: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"wkv k-NN d={d} n=m={n}"
    x, y = data(n, d)
    nu = benchmark.pedantic(IMPLEMENTATIONS[impl], args=(x, y), rounds=3 if n <= 65536 else 1, iterations=1)
    assert nu.shape == (n,)


def skl_case(backend: str) -> float:
    from vaetk_plugins.metrics.skl import SKL

    rng = np.random.default_rng(0)
    theta = rng.choice([-1.0, 1.0], size=(512, 2)) + 0.25 * rng.standard_normal((512, 2))
    a = np.deg2rad(30.0)
    z = theta @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T
    return SKL(SKL.Config(backend=backend))(z, theta, 0)["skl"]


@pytest.mark.parametrize("backend", ["native", "scipy"])
def test_skl_full_evaluation(benchmark, backend: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "S_KL n=512 2-D mixture"
    value = benchmark.pedantic(skl_case, args=(backend,), rounds=5 if backend == "native" else 2, iterations=1)
    assert np.isfinite(value)


def _best(f, *args, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main(quick: bool = False) -> None:
    print(f"threads: {_threads()}")
    print(f"{'case':<22} " + " ".join(f"{n:>12}" for n in IMPLEMENTATIONS) + "   scipy/native")
    for d, sizes in ((2, SIZES_2D), (10, SIZES_10D)):
        for n in sizes:
            if quick and n > 65536:
                continue
            x, y = data(n, d)
            repeat = 7 if n <= 4096 else 3
            t = {}
            for name, f in IMPLEMENTATIONS.items():
                if name == "faiss" and (n > FAISS_MAX_N or (d == 10 and n > 4096 and quick)):
                    continue
                f(x[:64], y[:64])  # warm-up: imports, thread pools
                t[name] = _best(f, x, y, repeat=repeat)
            cells = " ".join(f"{t[k] * 1e3:>10.2f}ms" if k in t else f"{'-':>12}" for k in IMPLEMENTATIONS)
            print(f"d={d:<2} n=m={n:<14} {cells}   {t['scipy'] / t['native']:>6.1f}x  "
                  + " ".join(f"{k}/native={t[k] / t['native']:.1f}x" for k in ("native_1t", "sklearn", "faiss")
                             if k in t))
    skl_case("native")
    tn, ts = _best(skl_case, "native", repeat=5), _best(skl_case, "scipy", repeat=2)
    print(f"S_KL n=512 2-D mixture: native {tn * 1e3:.1f} ms, scipy backend {ts * 1e3:.1f} ms ({ts / tn:.1f}x)")


if __name__ == "__main__":
    import sys

    main(quick="--quick" in sys.argv)
