"""``vaetk info [STORE]``: the build and run-time environment, or a dataset store's summary."""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform

HELP = "show version, build flags (OpenMP, CUDA) and threads; with STORE, summarise a dataset store"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", nargs="?", help="a dataset store (DIR.zarr) to summarise instead")
    parser.add_argument("--verify", action="store_true",
                        help="with STORE: read every shard and check it against the checksums recorded when it was "
                        "written; list the damaged ones and exit with status 1 if there are any")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_lines() -> list[str]:
    """The lines `vaetk info` prints (also shown in the pytest header and benchmark metadata)."""
    import vaetk
    from vaetk._build import build_info
    from vaetk._threads import available_cpus, effective_n_threads

    info = build_info()
    cuda = "not compiled"
    if info["cuda"]:
        cuda = f"compiled for {info['cuda_architectures']}, {info['cuda_devices']} device(s) visible"
    return [
        f"vaetk {vaetk.__version__}",
        f"python {platform.python_version()} ({info['platform']})",
        f"numpy {_version('numpy')}, scipy {_version('scipy')}, torch {_version('torch')}",
        f"compiled core: {info['build_type']} build, {info['compiler']}",
        f"OpenMP: {'on' if info['openmp'] else 'off'}; "
        f"effective threads {effective_n_threads()} of {available_cpus()} CPUs",
        f"CUDA: {cuda}",
    ]


def run(args: argparse.Namespace) -> int:
    if args.store:
        from vaetk.data._store import _describe, kle_modes_problem, open_store, repair_command, verify_store

        info = open_store(args.store)
        damaged = verify_store(info) if args.verify else None
        basis = kle_modes_problem(info) if args.verify else None
        print(_describe(info, damaged))
        if basis:
            print(f"  KLE basis DAMAGED: {basis}; `{repair_command(info.path)}` recomputes it")
        return 1 if damaged or basis else 0
    if args.verify:
        from vaetk.errors import ConfigError

        raise ConfigError("--verify needs a STORE: vaetk info DIR.zarr --verify.")
    print("\n".join(environment_lines()))
    return 0
