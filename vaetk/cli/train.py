"""``vaetk train EXPERIMENT --out RUN_DIR [--resume] [--device ...] [--data PATH]``: train a VAE."""

from __future__ import annotations

import argparse

HELP = "train a VAE from an experiment file (or preset name) into a run directory"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("experiment", help="experiment TOML file, or a preset name (see `vaetk train --list`)",
                        nargs="?")
    parser.add_argument("--out", help="run directory (created; must be empty unless --resume)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--device", help="override training.device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--data", help="override data.path (a DIR.zarr store or an HDF5 file)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the experiment presets and exit")


def run(args: argparse.Namespace) -> int:
    from vaetk.errors import ConfigError
    from vaetk.training import list_presets, load_experiment
    from vaetk.training._run import train_experiment

    if args.list:
        print("\n".join(list_presets()))
        return 0
    if args.experiment is None or args.out is None:
        raise ConfigError("vaetk train needs an EXPERIMENT (file or preset name) and --out RUN_DIR.")
    config = load_experiment(args.experiment).with_overrides(data_path=args.data, device=args.device)
    result = train_experiment(config, args.out, resume=args.resume, progress=not args.no_progress)
    final = result.final
    print(f"trained {int(final['epochs'])} epochs in {result.seconds:.1f} s -> {args.out}")
    for split in ("train", "test"):
        if f"{split}_rec_per_pixel" in final:
            print(f"  {split}: L_REC {final[f'{split}_rec_per_pixel']:.4f}  L_REG {final[f'{split}_reg_per_pixel']:.4f}"
                  f"  (per pixel; ELBO units {final[f'{split}_loss_elbo']:.1f} nats)  S_D {final[f'{split}_sd']:.3f}")
    print(f"  constant predictor L_REC {result.baseline.rec_per_pixel:.4f}; "
          f"over-regularised: {'YES' if result.over_regularized else 'no'}")
    return 0
