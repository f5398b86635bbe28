"""``vaetk export hdf5 STORE OUT.h5``: write a store split in the authors' HDF5 layout."""

from __future__ import annotations

import argparse

HELP = "export a dataset store split to the authors' HDF5 layout (/output, /generative_params, /permeability)"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    p = sub.add_parser("hdf5", help="the authors' HDF5 layout", allow_abbrev=False)
    p.add_argument("store", metavar="STORE", help="a complete dataset store (DIR.zarr)")
    p.add_argument("out", metavar="OUT.h5", help="the HDF5 file to write")
    p.add_argument("--split", default="train", help="which split (default: train)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.h5 if it exists")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")


def run(args: argparse.Namespace) -> int:
    from vaetk.data import export_hdf5

    out = export_hdf5(args.store, args.out, split=args.split, overwrite=args.overwrite)
    print(f"wrote {out} (split {args.split!r})")
    return 0
