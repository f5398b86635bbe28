"""The Darcy dataset store: a Zarr v3 hierarchy with per-shard completion flags and a writer lock.

Layout of ``DIR.zarr`` (docs/design.md, section 5)::

    zarr.json                root group; attributes: "vaetk_store" (kind, format version), config, seeds,
                             versions, KLE eigenvalues and basis hash, scheme verification, status, trust
                             summary
    kle_modes                (s, n, n) float64, the exact KLE basis the permeabilities were built from
    <split>/                 one group per split ("train", "test"); attributes: n_samples, shard_size, trust
      fields                 (N, 3, n, n) float32, channels [p, u_x, u_y]
      theta                  (N, s) float64
      permeability           (N, n, n) float32
    _vaetk/                  bookkeeping, stored as small Zarr groups so Zarr tools see a valid hierarchy
      shards/<split>/<k>/    completion flag of shard k: written (atomically) only after all its arrays are
                             written; attributes: sample range, CRC-32 of each array's shard, trust record
      lock/                  present while a run owns the store (pid, host, start time)

One chunk along N per shard, so shards never share a chunk and may be written by different processes.

Integrity: a shard counts as complete only when its flag exists *and* its arrays still match the flag's checksums,
which every read checks (:func:`read_shard`: DarcyDataset, training, export), as do resume and ``vaetk info
--verify``. A damaged shard is reported naming the store, split, shard and array; ``vaetk generate darcy --out
STORE --resume`` regenerates it (bit-identically). The checksums guard against accidental damage (truncated or
lost chunk writes, swapped files, bit rot), not against tampering, so CRC-32 of the in-memory bytes (~4x cheaper
than SHA-256) is enough; format version 1 stores carry SHA-256 and are still verified with it. Because resume
re-verifies every flagged shard, flags are not fsync'ed: a flag that outlived its data after a power cut fails
verification and the shard is regenerated (the chunks themselves are never fsync'ed by Zarr either).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaetk._locks import describe_owner, is_stale, owner_record, take_over_if_stale
from vaetk.errors import DataError

__all__ = ["ARRAYS", "FORMAT_VERSION", "StoreInfo", "describe_store", "open_store"]

FORMAT_VERSION = 2  # 2: shard checksums are CRC-32 ("crc32"); 1: SHA-256 ("sha256"), still readable
READABLE_VERSIONS = (1, 2)
KIND = "darcy"
ARRAYS = ("fields", "theta", "permeability")
SPLITS = ("train", "test")
_BOOK = "_vaetk"


# -- small file helpers ------------------------------------------------------------------------------------
def _group_json(attributes: dict[str, Any]) -> bytes:
    return json.dumps(
        {"zarr_format": 3, "node_type": "group", "attributes": attributes}, indent=2, sort_keys=True
    ).encode()


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers never see half a file.

    ``durable`` also fsyncs the file before the rename (survives a power cut, costs a disk flush).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _header(arr: np.ndarray) -> bytes:
    return arr.dtype.str.encode() + str(arr.shape).encode()


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's values in C order (with its dtype and shape): the KLE basis identity."""
    arr = np.ascontiguousarray(array)
    h = hashlib.sha256(_header(arr))
    h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def shard_checksum(array: np.ndarray) -> str:
    """CRC-32 (8 hex digits) of an array's dtype, shape and values in C order, hashed in place (no copy)."""
    arr = np.ascontiguousarray(array)
    return f"{zlib.crc32(memoryview(arr).cast('B'), zlib.crc32(_header(arr))):08x}"


def shard_checksums(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, str]]:
    """The checksum record of a shard's arrays (what its completion flag stores)."""
    return {"crc32": {name: shard_checksum(values) for name, values in arrays.items()}}


_CHECKSUMS = {"crc32": shard_checksum, "sha256": array_sha256}


def flag_path(root: Path, split: str, shard: int) -> Path:
    return root / _BOOK / "shards" / split / f"{shard:06d}" / "zarr.json"


def write_flag(root: Path, split: str, shard: int, record: dict[str, Any]) -> None:
    write_atomic(flag_path(root, split, shard), _group_json(record), durable=False)  # see module docstring


def read_flag(root: Path, split: str, shard: int) -> dict[str, Any] | None:
    """The completion record of a shard, or None when the shard is not (or not readably) complete."""
    path = flag_path(root, split, shard)
    try:
        meta = json.loads(path.read_bytes())
        record = meta["attributes"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged flag means "not complete": the shard is regenerated
    return record if isinstance(record, dict) and record.get("shard") == shard else None


def init_bookkeeping(root: Path, splits: Iterable[str] = ()) -> None:
    """The bookkeeping groups, each with its zarr.json, so Zarr tools walk the hierarchy without warnings."""
    for sub in (root / _BOOK, root / _BOOK / "shards", *(root / _BOOK / "shards" / split for split in splits)):
        path = sub / "zarr.json"
        if not path.exists():
            write_atomic(path, _group_json({}))


def consolidate(root: Path) -> None:
    """Consolidate the metadata of a complete store into its root zarr.json, so readers such as xarray open it
    with one read (and without a warning). vaetk itself always reads the per-node metadata
    (``use_consolidated=False``): any later write to a group's attributes, as a resume makes, replaces the root
    metadata and with it the summary, which is only rewritten here, when the store is complete again."""
    import warnings

    import zarr

    with warnings.catch_warnings():  # zarr's note that consolidation is not yet in the v3 specification
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part", category=UserWarning)
        zarr.consolidate_metadata(str(root))


# -- the writer lock ---------------------------------------------------------------------------------------
@contextmanager
def writer_lock(root: Path) -> Iterator[dict[str, Any]]:
    """Own the store for the duration of a run; a lock left by a dead process on this host is taken over (by one
    process only when several find it at once).

    Raises
    ------
    DataError
        If another live process (or a process on another host) holds the lock.
    """
    lock_dir = root / _BOOK / "lock"
    me = owner_record()
    for _ in range(3):
        # The lock is made whole beside its place and renamed into it: a process killed at any moment leaves no
        # lock, or one naming its owner, never an empty one (an empty directory, left by older versions, is
        # replaced by the rename, which fails only when the lock exists and is not empty).
        tmp = lock_dir.with_name(f".lock.{os.getpid()}.{time.monotonic_ns()}.tmp")
        tmp.mkdir(parents=True)
        write_atomic(tmp / "zarr.json", _group_json({"owner": me}), durable=False)
        try:
            os.rename(tmp, lock_dir)  # atomic: exactly one process puts its lock there
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOENT):
                raise
            owner = _read_lock(lock_dir)
            if is_stale(owner, me):  # its owner was killed
                take_over_if_stale(lock_dir / "zarr.json", lambda content: is_stale(_lock_owner(content), me),
                                   lambda: shutil.rmtree(lock_dir, ignore_errors=True))
                continue
            if (
                owner is None and _lock_age(lock_dir) > 60.0
            ):  # an empty lock older than a minute: a crashed mkdir
                shutil.rmtree(lock_dir, ignore_errors=True)
                continue
            raise DataError(
                f"The store {str(root)!r} is being written by {describe_owner(owner)}. Two runs cannot write one "
                f"store. Wait for it to finish, or, if that run is dead, remove {str(lock_dir)!r} and run again "
                f"with --resume."
            ) from None
        else:
            break
    else:
        raise DataError(f"Could not lock the store {str(root)!r} (its lock {str(lock_dir)!r} keeps changing hands); "
                        "run again.")
    try:
        yield me
    finally:
        shutil.rmtree(lock_dir, ignore_errors=True)


def _read_lock(lock_dir: Path) -> dict[str, Any] | None:
    try:
        return _lock_owner((lock_dir / "zarr.json").read_bytes())
    except OSError:
        return None


def _lock_owner(content: bytes) -> dict[str, Any] | None:
    try:
        return json.loads(content)["attributes"]["owner"]
    except (ValueError, KeyError, TypeError):
        return None


def _lock_age(lock_dir: Path) -> float:
    try:
        return time.time() - lock_dir.stat().st_mtime
    except OSError:
        return 0.0


# -- reading and validating a store ------------------------------------------------------------------------
_STORE_ENTRIES = frozenset({"zarr.json", "kle_modes", *SPLITS, _BOOK})


def started_store(path: Path) -> bool:
    """Whether ``path`` holds a store vaetk began to create and did not finish creating (killed or out of memory
    in its first moments): nothing but a store's entries, including the bookkeeping folder (made first, with the
    lock), and root metadata that is missing, unreadable, unmarked or marked ``status: creating``. Such a store
    holds no data; ``generate`` starts it afresh on resume or overwrite."""
    path = Path(path)
    try:
        names = {p.name for p in path.iterdir() if not (p.name.startswith(".") and p.name.endswith(".tmp"))}
    except OSError:
        return False
    if _BOOK not in names or not names <= _STORE_ENTRIES or not (path / _BOOK).is_dir():
        return False
    try:
        meta = json.loads((path / "zarr.json").read_bytes())
    except (OSError, ValueError):
        return True  # not yet written, or cut short while being written
    attrs = meta.get("attributes") if isinstance(meta, dict) else None
    if not isinstance(attrs, dict) or not isinstance(attrs.get("vaetk_store"), dict):
        return True  # zarr wrote the group before vaetk marked it
    return attrs.get("status") == "creating"


def is_store(path: Path) -> bool:
    """Whether ``path`` has the root metadata of a vaetk Darcy store (validity is checked by open_store)."""
    try:
        meta = json.loads((Path(path) / "zarr.json").read_bytes())
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and isinstance(meta.get("attributes"), dict)
        and isinstance(meta["attributes"].get("vaetk_store"), dict)
    )


@dataclass(frozen=True)
class StoreInfo:
    """A validated, opened store.

    Attributes
    ----------
    path : Path
    root : zarr.Group
        The opened root group (read-only unless opened with ``mode="r+"``).
    attrs : dict
        Root attributes (config, seeds, versions, KLE, verification, trust, status).
    splits : dict of str to int
        Samples per split present in the store.
    complete : bool
        Whether every shard of every split is flagged complete.
    repaired : dict of str to list of int
        Set by ``generate(..., resume=True)``: the damaged shards (flagged complete, data failing verification)
        that it regenerated, by split; the key ``"kle_modes"`` (an empty list) when it recomputed a damaged KLE
        basis.
    """

    path: Path
    root: Any
    attrs: dict[str, Any]
    splits: dict[str, int]
    complete: bool
    repaired: dict[str, list[int]] = field(default_factory=dict)

    def split_group(self, split: str) -> Any:
        if split not in self.splits:
            raise DataError(
                f"The store {str(self.path)!r} has no split {split!r}; it has: "
                f"{', '.join(self.splits) or '(none)'}."
            )
        return self.root[split]

    def missing_shards(self, split: str) -> list[int]:
        group = self.split_group(split)
        n_shards = int(group.attrs["n_shards"])
        return [k for k in range(n_shards) if read_flag(self.path, split, k) is None]


def open_store(path: str | os.PathLike[str], *, mode: str = "r", require_complete: bool = False) -> StoreInfo:
    """Open a vaetk Darcy store and check it is one, intact in structure, of a format this version reads.

    Parameters
    ----------
    path : path-like
        The ``DIR.zarr`` directory.
    mode : {"r", "r+"}
        Read-only, or read-write (for resuming).
    require_complete : bool
        Raise if some shard has not been written (a run was interrupted: ``vaetk generate ... --resume``).

    Raises
    ------
    DataError
        Missing path, not a vaetk store (foreign Zarr or other directory), unreadable/corrupted metadata,
        arrays with unexpected shapes or dtypes, or an incomplete store when ``require_complete``.
    """
    import zarr

    root_path = Path(path)
    if not root_path.exists():
        raise DataError(f"No dataset store at {str(root_path)!r}. Create one with `vaetk generate darcy`.")
    if not root_path.is_dir():
        raise DataError(
            f"{str(root_path)!r} is a file, not a dataset store (a DIR.zarr directory). For an "
            f"exported HDF5 file use vaetk.data.DarcyDataset directly."
        )
    meta_path = root_path / "zarr.json"
    try:
        meta = json.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise DataError(
            f"{str(root_path)!r} is not a dataset store: it has no zarr.json (not a Zarr v3 "
            f"store, or its root metadata was deleted)."
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(
            f"The store {str(root_path)!r} is corrupted: its root metadata {str(meta_path)!r} cannot "
            f"be read ({exc}). Regenerate it with --overwrite."
        ) from None
    marker = meta.get("attributes", {}).get("vaetk_store") if isinstance(meta, dict) else None
    if not isinstance(marker, dict) or marker.get("kind") != KIND:
        raise DataError(
            f"{str(root_path)!r} is a Zarr store but not a vaetk Darcy dataset (no 'vaetk_store' "
            f"attribute of kind {KIND!r}). vaetk will not read or modify it."
        )
    if marker.get("format_version") not in READABLE_VERSIONS:
        raise DataError(
            f"The store {str(root_path)!r} has format version {marker.get('format_version')!r}; this "
            f"vaetk reads versions {', '.join(map(str, READABLE_VERSIONS))}. Use the vaetk version that wrote "
            f"it, or regenerate."
        )
    try:
        root = zarr.open_group(root_path, mode=mode, use_consolidated=False)  # never a stale summary (consolidate)
        attrs = root.attrs.asdict()
        splits: dict[str, int] = {}
        for split, n_samples in attrs["splits"].items():
            group = root[split]
            expected = _expected_shapes(attrs, n_samples)
            for name in ARRAYS:
                arr = group[name]
                shape, dtype = expected[name]
                if arr.shape != shape or arr.dtype != np.dtype(dtype):
                    raise DataError(
                        f"The store {str(root_path)!r} is corrupted: {split}/{name} has shape "
                        f"{arr.shape} and dtype {arr.dtype}, expected {shape} and {dtype}."
                    )
            splits[split] = int(n_samples)
    except DataError:
        raise
    except Exception as exc:  # missing arrays/groups, unreadable array metadata
        raise DataError(
            f"The store {str(root_path)!r} is corrupted or truncated: {type(exc).__name__}: {exc}. "
            f"Regenerate it with `vaetk generate darcy ... --overwrite`."
        ) from None
    info = StoreInfo(root_path, root, attrs, splits, complete=False)
    complete = all(not info.missing_shards(s) for s in splits)
    info = StoreInfo(root_path, root, attrs, splits, complete=complete)
    if require_complete and not complete:
        missing = {s: len(info.missing_shards(s)) for s in splits}
        raise DataError(
            f"The store {str(root_path)!r} is incomplete (shards not yet written: "
            f"{', '.join(f'{s}: {m}' for s, m in missing.items() if m)}). Finish it with "
            f"`{repair_command(root_path)}`."
        )
    return info


def _expected_shapes(attrs: dict[str, Any], n_samples: int) -> dict[str, tuple[tuple[int, ...], str]]:
    n, s = int(attrs["config"]["n"]), int(attrs["config"]["n_modes"])
    return {
        "fields": ((n_samples, 3, n, n), "float32"),
        "theta": ((n_samples, s), "float64"),
        "permeability": ((n_samples, n, n), "float32"),
    }


def repair_command(path: Path | str) -> str:
    """The command that regenerates a store's missing or damaged shards (it reads the store's own config)."""
    return f"vaetk generate darcy --out {str(path)} --resume"


def _damage_hint(path: Path | str) -> str:
    return (f"Run `vaetk info {str(path)} --verify` to list every damaged shard, and `{repair_command(path)}` to "
            f"regenerate them (generation is deterministic: the repaired store is bit-identical to the original).")


def _shard_range(info: StoreInfo, split: str, shard: int) -> tuple[int, int]:
    size = int(info.split_group(split).attrs["shard_size"])
    return shard * size, min((shard + 1) * size, info.splits[split])


def _read_raw(info: StoreInfo, split: str, shard: int) -> tuple[dict[str, np.ndarray], str | None]:
    """The arrays of a shard as stored, and a description of the first array that could not be decoded."""
    group = info.split_group(split)
    start, stop = _shard_range(info, split, shard)
    out = {}
    for name in ARRAYS:
        try:
            out[name] = group[name][start:stop]
        except Exception as exc:
            return out, (f"cannot read {split}/{name} samples {start}:{stop} (shard {shard}): "
                         f"{type(exc).__name__}: {exc}")
    return out, None


def shard_problem(info: StoreInfo, split: str, shard: int,
                  arrays: dict[str, np.ndarray] | None = None) -> str | None:
    """What is wrong with a shard (None when it is flagged complete and every array matches its checksum).

    ``arrays``: the shard's arrays when already read (not read again).
    """
    start, stop = _shard_range(info, split, shard)
    where = f"{split} shard {shard} (samples {start}:{stop})"
    record = read_flag(info.path, split, shard)
    if record is None:
        return f"{where} is not flagged complete (never finished, or its completion flag was lost)"
    kind = next((k for k in _CHECKSUMS if isinstance(record.get(k), dict)), None)
    if kind is None:
        return f"the completion flag of {where} records no checksums"
    if arrays is None:
        arrays, error = _read_raw(info, split, shard)
        if error is not None:
            return error
    expected, checksum = record[kind], _CHECKSUMS[kind]
    bad = [name for name, values in arrays.items() if expected.get(name) != checksum(values)]
    if bad:
        return (f"{' and '.join(f'{split}/{name}' for name in bad)} of {where} "
                f"{'does' if len(bad) == 1 else 'do'} not match the checksum{'s' if len(bad) > 1 else ''} recorded "
                "when the shard was written (a chunk file was lost, modified or swapped)")
    return None


def read_shard(info: StoreInfo, split: str, shard: int, *, verify: bool = True) -> dict[str, np.ndarray]:
    """The arrays of one shard, checked against the checksums its completion flag recorded.

    Parameters
    ----------
    verify : bool
        Check the checksums (default; every vaetk read path does, with no opt-out: on a 10,000-sample n = 65
        store, 676 MB decoded, reading every shard takes 0.44 s and reading and checking it 0.68 s, x1.53,
        from the page cache on a shared 2-core machine: benchmarks/bench_store_verify.py). False only for tools
        that inspect damage.

    Raises
    ------
    DataError
        A chunk cannot be decoded, or (``verify``) the shard is not flagged complete or an array does not match
        its checksum; the message names the store, split, shard and array, and how to repair it.
    """
    arrays, error = _read_raw(info, split, shard)
    problem = error if error is not None else shard_problem(info, split, shard, arrays) if verify else None
    if problem is not None:
        raise DataError(f"The store {str(info.path)!r} is corrupted: {problem}. {_damage_hint(info.path)}")
    return arrays


def read_split(info: StoreInfo, split: str, names: tuple[str, ...] = ARRAYS) -> dict[str, np.ndarray]:
    """The arrays ``names`` of one split, read shard by shard, each shard verified (see :func:`read_shard`)."""
    n_shards = int(info.split_group(split).attrs["n_shards"])
    shards = [read_shard(info, split, k) for k in range(n_shards)]
    return {name: np.concatenate([s[name] for s in shards]) for name in names}


def kle_modes_problem(info: StoreInfo) -> str | None:
    """What is wrong with the store's KLE basis (``kle_modes``, which regenerated shards are built from), or None
    when it still hashes to the SHA-256 recorded at creation."""
    try:
        modes = np.asarray(info.root["kle_modes"][...])
    except Exception as exc:  # noqa: BLE001 - any failure to read it is damage
        return f"kle_modes cannot be read ({type(exc).__name__}: {exc})"
    if array_sha256(modes) != info.attrs["kle"]["modes_sha256"]:
        return "kle_modes does not match the SHA-256 recorded when the store was created"
    return None


def verify_shard(info: StoreInfo, split: str, shard: int) -> bool:
    """Whether a shard is flagged complete and its arrays still hash to what the flag recorded."""
    return shard_problem(info, split, shard) is None


def verify_store(info: StoreInfo) -> dict[str, dict[int, str]]:
    """Every damaged shard (flagged complete, but its data no longer matches): ``{split: {shard: problem}}``.

    Shards not yet written (an incomplete store) are not damage and are not listed.
    """
    damaged: dict[str, dict[int, str]] = {}
    for split in info.splits:
        n_shards = int(info.split_group(split).attrs["n_shards"])
        for k in range(n_shards):
            if read_flag(info.path, split, k) is None:
                continue
            problem = shard_problem(info, split, k)
            if problem is not None:
                damaged.setdefault(split, {})[k] = problem
    return damaged


# -- summary -----------------------------------------------------------------------------------------------
def describe_store(path: str | os.PathLike[str], *, verify: bool = False) -> str:
    """A human-readable summary of a store: contents, provenance and trust records (``vaetk info STORE``).

    Parameters
    ----------
    path : path-like
        The ``DIR.zarr`` directory.
    verify : bool
        Also re-hash every completed shard against its completion record (reads all the data) and list the
        damaged ones (``vaetk info STORE --verify``; :func:`verify_store` returns them).
    """
    info = open_store(path)
    return _describe(info, verify_store(info) if verify else None)


def _describe(info: StoreInfo, damaged: dict[str, dict[int, str]] | None) -> str:
    """The summary of ``describe_store``; ``damaged`` is :func:`verify_store`'s result, None when not verified."""
    a = info.attrs
    cfg = a["config"]
    dist = dict(cfg["distribution"])
    dist_name = dist.pop("name")
    lines = [
        f"vaetk Darcy dataset store {str(info.path)}",
        f"  status: {_status(info, damaged)}",
        f"  grid: {cfg['n']} x {cfg['n']} nodes; KLE: {cfg['n_modes']} modes, length scale "
        f"{cfg['kle']['length_scale']}, variance {cfg['kle']['variance']}, mean {cfg['kle']['mean']}",
        f"  KLE eigenvalues: {', '.join(f'{v:.6g}' for v in a['kle']['eigenvalues'])} "
        f"(basis sha256 {a['kle']['modes_sha256'][:16]}...)",
        f"  theta ~ {dist_name}({', '.join(f'{k}={v}' for k, v in dist.items())})",
        f"  scheme: {cfg['scheme']} (source quadrature {cfg['source_quadrature']}); solver: {cfg['solver']}",
        f"  seed: {a['seed']} ({a['seed_derivation']})",
        f"  shard size: {a['shard_size']}",
        "  versions: " + ", ".join(f"{k} {v}" for k, v in a["versions"].items()),
    ]
    ver = a.get("verification", {})
    if ver:
        lines.append(
            f"  scheme verification ({ver['method']}): observed order {ver['order_pressure']:.3f} "
            f"(pressure), {ver['order_velocity']:.3f} (velocity) on grids {ver['grids']}"
        )
    for split, n in info.splits.items():
        missing = info.missing_shards(split)
        group = info.root[split]
        n_shards = int(group.attrs["n_shards"])
        lines.append(
            f"  {split}: {n} samples in {n_shards} shards ({n_shards - len(missing)} complete); "
            f"fields (N, 3, {cfg['n']}, {cfg['n']}) float32, theta (N, {cfg['n_modes']}) float64, "
            f"permeability (N, {cfg['n']}, {cfg['n']}) float32"
        )
        trust = summarise_trust([r for k in range(n_shards) if (r := read_flag(info.path, split, k))])
        if trust:
            lines.append(
                f"    trust: solver(s) {', '.join(trust['solvers'])} on {', '.join(trust['devices'])}, tol "
                f"{trust['tol']:g}; max relative "
                f"residual {trust['residual_max']:.3g}; max mass-balance error "
                f"{trust['mass_balance_max']:.3g}; max zero-mean error {trust['zero_mean_max']:.3g}"
            )
        if damaged is not None:
            bad = damaged.get(split, {})
            lines.append("    verify: " + ("all completed shards match their checksums" if not bad else
                                          f"DAMAGED shards {sorted(bad)}"))
            lines.extend(f"      {problem}" for problem in bad.values())
    if damaged:
        lines.append(f"  repair: `{repair_command(info.path)}` regenerates the damaged shards (bit-identical to "
                     "the originals); reading the store fails until then")
    return "\n".join(lines)


def _status(info: StoreInfo, damaged: dict[str, dict[int, str]] | None) -> str:
    if damaged:
        n_bad = sum(len(b) for b in damaged.values())
        return f"DAMAGED ({n_bad} shard(s) fail verification; repair with `{repair_command(info.path)}`)"
    if not info.complete:
        return f"INCOMPLETE (finish it with `{repair_command(info.path)}`)"
    if damaged is None:
        return "complete (shards flagged; `vaetk info --verify` checks their data, as every read does)"
    return "complete, verified (every shard matches its checksums)"


def summarise_trust(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Worst case over shard trust records (empty when there are none)."""
    trusts = [r["trust"] for r in records if "trust" in r]
    if not trusts:
        return {}
    return {
        "solvers": sorted({t["solver"] for t in trusts}),
        "devices": sorted({t.get("device", "cpu") for t in trusts}),
        "tol": max(t["tol"] for t in trusts),
        "residual_max": max(t["residual_max"] for t in trusts),
        "mass_balance_max": max(t["mass_balance_max"] for t in trusts),
        "zero_mean_max": max(t["zero_mean_max"] for t in trusts),
        "iterations_max": max(t["iterations_max"] for t in trusts),
        "shards": len(trusts),
    }
