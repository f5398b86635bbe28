"""What verifying a store on read costs: every shard read and checked against its CRC-32 checksums, against the
same read without the check (issue 15: every read path verifies by default).

Run: ``pytest benchmarks/bench_store_verify.py --benchmark-only -s``. Environment: ``VAETK_BENCH_VERIFY_N``
(samples in the train split, default 2000; the issue measures 10000, whose store takes ~30 s to generate on a
2-core machine), ``VAETK_BENCH_VERIFY_STORE`` (a folder to keep the generated store in between runs; default a
temporary folder), ``VAETK_BENCH_VERIFY_ROUNDS`` (rounds per case, default 3; the minimum is compared).

The grid is n = 65 (the paper's), shards of 256 samples, the conservative scheme (the fastest solver: only the
generation time depends on it). Both cases read the decoded arrays of every shard (fields, theta, permeability);
the first read warms the page cache, so both cases read from memory, which is the case that shows the checksum's
cost most. The ratio "read + verify / plain read" is printed; measured numbers: benchmarks/README.md.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from vaetk.data import generate, open_store
from vaetk.data._generate import load_config
from vaetk.data._store import read_shard

N = int(os.environ.get("VAETK_BENCH_VERIFY_N", "2000"))
ROUNDS = int(os.environ.get("VAETK_BENCH_VERIFY_ROUNDS", "3"))
GROUP = f"read a {N}-sample n=65 store"


@pytest.fixture(scope="module")
def store() -> Path:
    folder = os.environ.get("VAETK_BENCH_VERIFY_STORE")
    base = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="vaetk-bench-verify-"))
    out = base / f"verify_n65_{N}.zarr"
    if not (out.is_dir() and open_store(out).complete):
        config = load_config("kle2_standard_normal").to_dict()
        config.update(scheme="conservative", source_quadrature=None, split={"train": N, "test": 0})
        generate(config, out, seed=0, shard_size=256, n_workers=2, overwrite=out.exists())
    return out


def _read_all(path: Path, verify: bool) -> int:
    info = open_store(path, require_complete=True)
    n_shards = int(info.split_group("train").attrs["n_shards"])
    return sum(read_shard(info, "train", k, verify=verify)["fields"].nbytes for k in range(n_shards))


@pytest.mark.parametrize("verify", [False, True], ids=["plain read", "read + verify"])
def test_read_store(benchmark, store: Path, verify: bool) -> None:  # type: ignore[no-untyped-def]
    _read_all(store, verify)  # warm the page cache (and zarr's imports)
    benchmark.group = GROUP
    benchmark.extra_info.update(case="read + verify" if verify else "plain read", baseline=not verify, batch=N)
    nbytes = benchmark.pedantic(_read_all, args=(store, verify), rounds=ROUNDS, iterations=1)
    assert nbytes == N * 3 * 65 * 65 * 4
    RESULTS[verify] = benchmark.stats.stats.min
    if len(RESULTS) == 2:
        print(f"\n{GROUP}: plain read {RESULTS[False]:.3f} s, read + verify {RESULTS[True]:.3f} s (min of {ROUNDS}); "
              f"ratio {RESULTS[True] / RESULTS[False]:.3f}")


RESULTS: dict[bool, float] = {}
