"""Ensemble training (``vaetk sweep --ensemble K``) against K single runs: epoch time per member.

An ensemble of K DenseVAE members at the paper's size (3 x 65 x 65, 2 latents, batch 64) is trained as one batched
model (:mod:`vaetk.training._ensemble`); the same members are also trained alone by the ordinary Trainer, in the
same process and on the same random data. Reported per K: the ensemble's epoch time, per member, the single run's
epoch time and ``speedup`` = K single epochs / one ensemble epoch (> 1: the ensemble is faster). The first epoch of
each is a warm-up and not counted.

Run: ``python benchmarks/bench_ensemble.py [--device cpu|cuda] [--k 1 4 10] [--n-train 512] [--threads 1]``, or
``pytest benchmarks/bench_ensemble.py -s`` (CPU, 2 steps per epoch, K = 1, 4, 10; prints the table and keeps the
numbers in ``extra_info`` when pytest-benchmark is installed).

On a CPU nothing is expected from batching: the cores are already busy with one model's convolutions, and vmap's
batched kernels (grouped convolutions, batched BatchNorm with extra copies) are several times slower than K plain
ones, so ``batching="auto"`` runs the members one by one there ("loop", the single run's kernels: about K single
steps). The gain is expected on a GPU, where one small model leaves most of the device idle ("vmap").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import pytest
import torch

from vaetk.training._ensemble import time_epoch


def run(ks: Sequence[int], device: str, *, n_train: int, n_threads: int | None, n_single: int = 2,
        batching: str = "auto", epochs: int = 2) -> list[dict[str, float]]:
    rows = []
    for k in ks:
        t0 = time.perf_counter()
        row = time_epoch(k, device, n_train=n_train, single=n_single, n_threads=n_threads, batching=batching,
                         epochs=epochs)
        row["bench_seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"{batching}, K={k:>3}: ensemble epoch {row['ensemble_epoch_s']:.3f} s = "
              f"{row['ensemble_member_epoch_s']:.3f} s per member; single epoch {row['single_epoch_s']:.3f} s; "
              f"speedup {row['speedup']:.2f}x (in CPU time {row['speedup_cpu_time']:.2f}x)", flush=True)
    return rows


def test_ensemble_epoch_per_member_cpu(request: pytest.FixtureRequest) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random data: the detector's verdict is meaningless here
        rows = run([1, 4, 10], "cpu", n_train=128, n_threads=1, batching="loop")
        rows += run([1, 4], "cpu", n_train=128, n_threads=1, batching="vmap")
    try:
        benchmark = request.getfixturevalue("benchmark")
        benchmark.extra_info["rows"] = rows
    except pytest.FixtureLookupError:
        pass
    assert all(r["ensemble_epoch_s"] > 0 for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 10])
    parser.add_argument("--n-train", type=int, default=512, help="training samples (batch 64: n/64 steps/epoch)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--single", type=int, default=2, help="members also timed alone (default 2)")
    parser.add_argument("--batching", choices=("auto", "vmap", "loop"), default="auto",
                        help="vmap: batched kernels; loop: member by member (auto: loop)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run, the first a warm-up (default 2)")
    parser.add_argument("--json", default=None, help="write the rows to this file")
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")
    rows = run(args.k, args.device, n_train=args.n_train, n_threads=args.threads, n_single=args.single,
               batching=args.batching, epochs=args.epochs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "n_train": args.n_train, "threads": args.threads,
                   "batching": args.batching, "rows": rows}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
