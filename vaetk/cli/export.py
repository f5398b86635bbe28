"""``vaetk export hdf5 STORE OUT.h5`` (a split in the authors' HDF5 layout) and ``vaetk export pdebench STORE
PREFIX`` (every split, PDEBench-style)."""

from __future__ import annotations

import argparse

HELP = "export a dataset store to HDF5: the authors' layout (hdf5) or PDEBench-style (pdebench)"


def populate_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    p = sub.add_parser("hdf5", help="the authors' HDF5 layout", allow_abbrev=False)
    p.add_argument("store", metavar="STORE", help="a complete dataset store (DIR.zarr)")
    p.add_argument("out", metavar="OUT.h5", help="the HDF5 file to write")
    p.add_argument("--split", default="train", help="which split (default: train)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.h5 if it exists")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")
    p = sub.add_parser("pdebench", allow_abbrev=False,
                       help="PDEBench-style HDF5, every split (/nu, /tensor, coordinates, /theta; gzip)")
    p.add_argument("store", metavar="STORE", help="a complete dataset store (DIR.zarr)")
    p.add_argument("prefix", metavar="PREFIX", help="writes PREFIX_train.hdf5, PREFIX_test.hdf5, ...")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")


def run(args: argparse.Namespace) -> int:
    from vaetk.data import export_hdf5, export_pdebench

    if args.format == "pdebench":
        for out in export_pdebench(args.store, args.prefix, overwrite=args.overwrite):
            print(f"wrote {out}")
        return 0
    out = export_hdf5(args.store, args.out, split=args.split, overwrite=args.overwrite)
    print(f"wrote {out} (split {args.split!r})")
    return 0
