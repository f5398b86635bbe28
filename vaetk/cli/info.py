"""``vaetk info [STORE]``: the build and run-time environment, or a dataset store's summary."""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import platform

HELP = "show version, build flags (OpenMP, CUDA) and threads; with STORE, summarise a dataset store"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", nargs="?", help="a dataset store (DIR.zarr) to summarise instead")


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
        from vaetk.data import describe_store

        print(describe_store(args.store))
        return 0
    print("\n".join(environment_lines()))
    return 0
