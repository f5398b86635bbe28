"""Performance note (issue 5): epochs and seconds to reach per-pixel L_REC < -9.3 in the reconstruction phase.

Compares vaetk's default (decoder log-variance initialised from the data variance) with the authors' start
(log-variance 0), everything else equal: Adam lr 5e-4, batch 64, reconstruction-only (KL left out), seed 0.
Not a pytest-benchmark: it trains for minutes. Example (what the report quotes)::

    vaetk generate darcy kle2_standard_normal --out sn65.zarr
    OMP_NUM_THREADS=1 python benchmarks/time_to_rec.py sn65.zarr --epochs 40 --architecture small
    OMP_NUM_THREADS=1 python benchmarks/time_to_rec.py sn65.zarr --epochs 40 --architecture small --authors-start
"""

from __future__ import annotations

import argparse
import json

from vaetk.training import parse_experiment
from vaetk.training._run import build_model, load_data
from vaetk.training._trainer import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a KLE2 standard-normal dataset store (train split used)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--architecture", default="dense_vae",
                        help="architecture name (dense_vae uses its paper preset)")
    parser.add_argument("--authors-start", action="store_true", help="decoder log-variance starts at 0 (the authors')")
    parser.add_argument("--threshold", type=float, default=-9.3)
    args = parser.parse_args()
    config = parse_experiment({
        "data": {"path": args.store},
        "model": {"architecture": {"name": args.architecture}, "init_decoder_logvar": not args.authors_start},
        "training": {"epochs": args.epochs, "batch_size": 64, "lr": 5e-4, "eval_every": 10**6, "n_threads": 1},
        "schedule": {"kind": "klushyn", "reconstruction_epochs": 4000},
        "evaluation": {"metrics": []},
    })
    x, theta, _, _ = load_data(config)
    model, _ = build_model(config, tuple(x.shape[1:]))
    reached: dict[str, float] = {}

    def watch(trainer: Trainer, row: dict[str, float]) -> None:
        if row["train_rec_per_pixel"] < args.threshold and not reached:
            reached.update(epoch=row["epoch"], seconds=sum(r["seconds"] for r in trainer.history))
        print(int(row["epoch"]), round(row["train_rec_per_pixel"], 4), round(row["seconds"], 2), flush=True)

    result = Trainer(config, model, x, theta, callbacks=[watch]).fit()
    print(json.dumps({"authors_start": args.authors_start, "architecture": args.architecture,
                      "parameters": sum(p.numel() for p in model.parameters()), "epochs": args.epochs,
                      "final_rec_per_pixel": result.history[-1]["train_rec_per_pixel"], "reached": reached or None,
                      "seconds": sum(row["seconds"] for row in result.history)}))


if __name__ == "__main__":
    main()
