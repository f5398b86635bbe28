"""``vaetk generate darcy CONFIG --out DIR.zarr``: generate (or finish) a Darcy dataset store."""

from __future__ import annotations

import argparse

from vaetk.cli._options import DeprecatedAlias, add_execution_options

HELP = "generate a dataset store (Darcy flow with KLE permeability) from a TOML config or a preset"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    p = sub.add_parser(
        "darcy",
        help="Darcy flow with KLE permeability",
        allow_abbrev=False,
        description="Generate a Darcy dataset store. CONFIG is a TOML file or a preset name "
        "(kle2_standard_normal, kle2_shifted_gaussian, kle2_gaussian_mixture).",
    )
    p.add_argument("config", metavar="CONFIG", nargs="?",
                   help="TOML file (a path with a suffix or folder) or a preset: NAME or preset:NAME; with --resume "
                   "it may be left out to finish or repair the store with the configuration it records")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dotted key of the configuration (repeatable), e.g. --set n=129 "
                        "--set kle.length_scale=0.2")
    p.add_argument("--out", required=True, metavar="DIR.zarr", help="the store directory to write")
    p.add_argument("--n-samples", type=int, metavar="N", help="samples per split (overrides the config's [split])")
    p.add_argument("--n", dest="n_samples", type=int, metavar="N", action=DeprecatedAlias, replacement="--n-samples",
                   note=" (in every other command --n is grid nodes per side; here it meant samples per split)")
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="root seed (default: random and recorded; stored one with --resume)",
    )
    p.add_argument("--shard-size", type=int, metavar="K", help="samples per shard (default 256)")
    p.add_argument(
        "--device",
        metavar="DEVICE",
        help="solve with the torch solver on this device: cpu, cuda, cuda:N or auto (overrides the config's "
        "device; the config's solver must be auto or torch; with a GPU, --workers defaults to 1)",
    )
    add_execution_options(
        p,
        workers_default=None,
        workers_help="shard tasks at once: processes of the local pool or of a LocalCluster (default: all CPUs)",
        threads_default=None,
        threads_help="threads per shard task's solve (default: OMP_NUM_THREADS or all CPUs; results do not "
        "depend on it)",
        tasks="shard tasks",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="finish an interrupted store, or repair a damaged one (regenerates every shard that is "
                      "missing or fails its checksums, and says which it repaired)")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")


def run(args: argparse.Namespace) -> int:
    from vaetk.data import describe_store, generate

    config = args.config
    if config is None and not args.resume:
        from vaetk.errors import ConfigError

        raise ConfigError("CONFIG is required (a preset or a TOML file), except with --resume, which reads the "
                          "store's recorded configuration: vaetk generate darcy --out DIR.zarr --resume.")
    if config is None and args.overrides:
        from vaetk.errors import ConfigError

        raise ConfigError("--set changes a configuration; give CONFIG with it (a resumed store keeps its own).")
    if args.overrides:
        from vaetk.data._generate import GenerationConfig, load_config
        from vaetk.sweeps import apply_overrides, parse_set_options

        overrides = parse_set_options(args.overrides)
        table = apply_overrides(load_config(args.config).to_dict(), overrides)
        config = GenerationConfig.from_dict(table, path=str(args.config))
    info = generate(
        config,
        args.out,
        n_samples=args.n_samples,
        seed=args.seed,
        shard_size=args.shard_size,
        scheduler=args.scheduler,
        resume=args.resume,
        overwrite=args.overwrite,
        n_workers=args.workers,
        n_threads=args.threads,
        progress=not args.no_progress,
        device=args.device,
    )
    repaired = dict(info.repaired)
    if repaired.pop("kle_modes", None) is not None:
        print("repaired: recomputed the KLE basis (kle_modes), which no longer matched its recorded SHA-256")
    if repaired:
        print("repaired: regenerated the damaged shard(s) "
              + "; ".join(f"{split} {shards}" for split, shards in repaired.items())
              + " (their data no longer matched the checksums recorded when they were written)")
    print(describe_store(info.path))
    return 0
