"""``vaetk train EXPERIMENT --out RUN_DIR [--resume] [--device ...] [--data PATH]``: train a VAE."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "train a VAE from an experiment file (or preset name) into a run directory"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    # --out is required except with --list, which argparse cannot say; the usage line does.
    parser.usage = "vaetk train EXPERIMENT --out RUN_DIR [--set KEY=VALUE ...] [options]\n       vaetk train --list"
    parser.add_argument("experiment", nargs="?",
                        help="experiment TOML file (a path with a suffix or folder), or a preset: NAME or "
                             "preset:NAME (see `vaetk train --list`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a dotted key of the experiment (repeatable), e.g. --set training.epochs=400")
    parser.add_argument("--out", help="run directory (required; created; must be empty unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (also to a larger training.epochs)")
    parser.add_argument("--device", help="override training.device: auto, cpu, cuda, cuda:N")
    parser.add_argument("--data", help="override data.path (a DIR.zarr store or an HDF5 file)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="log every epoch to RUN_DIR/tensorboard (needs: pip install 'vaetk[tensorboard]')")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the experiment presets and exit")


def run(args: argparse.Namespace) -> int:
    from vaetk.errors import ConfigError
    from vaetk.sweeps import parse_set_options
    from vaetk.training import list_presets, load_experiment
    from vaetk.training._run import train_experiment

    if args.list:
        print("\n".join(list_presets()))
        return 0
    if args.experiment is None or args.out is None:
        raise ConfigError("vaetk train needs an EXPERIMENT (file or preset name) and --out RUN_DIR.")
    config = load_experiment(args.experiment, parse_set_options(args.overrides)).with_overrides(
        data_path=args.data, device=args.device)
    callbacks = []
    if args.tensorboard:
        from vaetk.training import TensorBoardLogger

        callbacks.append(TensorBoardLogger(Path(args.out) / "tensorboard"))
    result = train_experiment(config, args.out, resume=args.resume, progress=not args.no_progress,
                              callbacks=callbacks)
    final = result.final
    units = json.loads((Path(args.out) / "summary.json").read_text())["units"]
    print(f"trained {int(final['epochs'])} epochs in {result.seconds:.1f} s -> {args.out}")
    for split in ("train", "test"):
        if f"{split}_rec_per_pixel" in final:
            print(f"  {split}: L_REC {final[f'{split}_rec_per_pixel']:.4f} {units['rec_per_pixel']}  L_REG "
                  f"{final[f'{split}_reg_per_pixel']:.4f} {units['reg_per_pixel']}  -ELBO "
                  f"{final[f'{split}_loss_elbo']:.1f} {units['loss_elbo']}  S_D {final[f'{split}_sd']:.3f}")
    print(f"  constant predictor L_REC {result.baseline.rec_per_pixel:.4f} nats/pixel; "
          f"over-regularised: {'YES' if result.over_regularized else 'no'}")
    return 0
