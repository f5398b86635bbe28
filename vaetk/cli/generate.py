"""``vaetk generate darcy CONFIG --out DIR.zarr``: generate (or finish) a Darcy dataset store."""

from __future__ import annotations

import argparse

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
    p.add_argument("config", metavar="CONFIG", help="TOML file or preset name")
    p.add_argument("--out", required=True, metavar="DIR.zarr", help="the store directory to write")
    p.add_argument("--n", type=int, metavar="N", help="samples per split (overrides the config's [split])")
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="root seed (default: random and recorded; stored one with --resume)",
    )
    p.add_argument("--shard-size", type=int, metavar="K", help="samples per shard (default 256)")
    p.add_argument("--workers", type=int, metavar="W", help="worker processes (default: all CPUs)")
    p.add_argument("--threads", type=int, metavar="T", help="threads per solve (results do not depend on it)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="finish an interrupted store")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing store")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address (tcp://host:8786) or 'dask' for a local one",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")


def run(args: argparse.Namespace) -> int:
    from vaetk.darcy import describe_store, generate

    info = generate(
        args.config,
        args.out,
        n_samples=args.n,
        seed=args.seed,
        shard_size=args.shard_size,
        executor=args.scheduler,
        resume=args.resume,
        overwrite=args.overwrite,
        n_workers=args.workers,
        n_threads=args.threads,
        progress=not args.no_progress,
    )
    print(describe_store(info.path))
    return 0
