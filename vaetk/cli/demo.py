"""``vaetk demo [--out DIR]``: the whole job on the embedded default, in a few minutes on a laptop CPU.

Generates a KLE2 4-mode-mixture Darcy dataset, trains a semi-supervised VAE with a few labels (the ``demo``
experiment preset), evaluates it (losses, S_D, S_KL, figures, report) and prints a summary.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HELP = "generate a small dataset, train a semi-supervised VAE, evaluate it and print a summary (a few minutes)"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None,
                        help="output directory, must be empty or missing (default: ./vaetk-demo, or ./vaetk-demo-N "
                             "when that exists)")
    parser.add_argument("--n", type=int, default=33,
                        help="grid nodes per side (default 33; the paper uses 65: slower, see demo.toml)")
    parser.add_argument("--seed", type=int, default=0, help="root seed of the dataset and the training")
    parser.add_argument("--epochs", type=int, help="override the demo experiment's epochs")
    parser.add_argument("--labels", type=int, help="override the number of labelled training samples (16)")
    parser.add_argument("--workers", type=int, default=None, help="dataset generation worker processes")
    parser.add_argument("--device", default=None, help="training device (default: the preset's, auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _fresh_default() -> Path:
    candidates = [Path("vaetk-demo")] + [Path(f"vaetk-demo-{i}") for i in range(1, 1000)]
    return next(p for p in candidates if not p.exists() or not any(p.iterdir()))


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from vaetk.cli.evaluate import summary_lines
    from vaetk.data import generate
    from vaetk.data._generate import load_config
    from vaetk.errors import DataError
    from vaetk.training import load_experiment
    from vaetk.training._evaluate import evaluate_run
    from vaetk.training._run import train_experiment

    out = Path(args.out) if args.out else _fresh_default()
    if out.exists() and any(out.iterdir()):
        raise DataError(f"--out {str(out)!r} is not empty; the demo writes a fresh directory (choose another --out "
                        "or remove it). Nothing was overwritten.")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    # 1. Data: the paper's KLE2 4-mode mixture (centres (+-1, +-1), std 0.25), 512 train + 512 test samples.
    gen_config = replace(load_config("kle2_gaussian_mixture"), n=args.n)
    store = out / "data.zarr"
    print(f"[1/3] generating 1024 KLE2 4-mode-mixture samples on a {args.n} x {args.n} grid -> {store}")
    generate(gen_config, store, seed=args.seed, n_workers=args.workers, progress=not args.no_progress)
    t_data = time.perf_counter() - start

    # 2. Training: the `demo` preset (see vaetk/configs/experiments/demo.toml).
    config = load_experiment("demo").with_overrides(data_path=str(store), device=args.device)
    training, semi = config.training, config.semi_supervised
    config = replace(config, training=replace(training, seed=args.seed, epochs=args.epochs or training.epochs),
                     semi_supervised=replace(semi, n_labels=semi.n_labels if args.labels is None else args.labels))
    recon = int(config.schedule.get("reconstruction_epochs", 0))
    if args.epochs and recon >= args.epochs:  # keep the phase's share, or beta would stay 0 for the whole run
        shorter = recon * args.epochs // training.epochs
        print(f"      --epochs {args.epochs} is within the preset's {recon}-epoch reconstruction phase; "
              f"shortening that phase to {shorter} epoch(s) (the same share of the run)")
        config = replace(config, schedule={**config.schedule, "reconstruction_epochs": shorter})
    run_dir = out / "run"
    print(f"[2/3] training a semi-supervised VAE ({config.semi_supervised.n_labels} labels of 512, "
          f"{config.training.epochs} epochs) -> {run_dir}")
    train_experiment(config, run_dir, progress=not args.no_progress)
    t_train = time.perf_counter() - start - t_data

    # 3. Evaluation: test losses, S_D, figures, report.
    print(f"[3/3] evaluating on the test split -> {run_dir / 'report.md'}")
    report = evaluate_run(run_dir)
    total = time.perf_counter() - start
    sd = report["losses"]["test"]["sd"]
    skl = report["metrics"].get("skl", {}).get("scores", {}).get("skl", float("nan"))
    print("\n".join(summary_lines(report)))
    print(f"  time: {total:.0f} s (data {t_data:.0f} s, training {t_train:.0f} s, evaluation "
          f"{total - t_data - t_train:.0f} s)")
    verdict = "disentangled" if sd >= 0.9 else "NOT disentangled"
    print(f"  test S_D = {sd:.3f}: {verdict} (target >= 0.9); test S_KL = {skl:.3f} (lower is better, 0: the "
          f"latents are a scaled, shifted copy of theta). Figures: {run_dir / 'plots'}")
    return 0
