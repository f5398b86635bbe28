"""Trust what is on disk (issue 15): damaged stores are refused on every read path, found by ``vaetk info --verify``
and repaired by ``vaetk generate darcy --out STORE --resume``; a store whose creation was cut short can always be
resumed or overwritten. Each test injects the fault it guards against."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from vaetk.cli.__main__ import main
from vaetk.data import DarcyDataset, _store, export_hdf5, export_pdebench, generate, open_store
from vaetk.errors import DataError


@pytest.fixture(scope="module")
def pristine_store(tmp_path_factory: pytest.TempPathFactory, small_config) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("pristine") / "s.zarr"
    generate(small_config(train=8, test=4), out, seed=3, shard_size=4, n_workers=1)
    return out


@pytest.fixture()
def store(pristine_store: Path, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "s.zarr"
    shutil.copytree(pristine_store, out)
    return out


def _chunk(store: Path, split: str, name: str, shard: int) -> Path:
    ndim = {"fields": 4, "theta": 2, "permeability": 3}[name]
    return store / split / name / "c" / str(shard) / Path(*["0"] * (ndim - 1))


def _delete_fields_chunk(store: Path) -> str:
    _chunk(store, "train", "fields", 1).unlink()  # zarr reads the fill value (zeros) instead
    return r"train/fields of train shard 1 \(samples 4:8\) does not match"


def _flip_byte_in_lz4_chunk(store: Path) -> str:
    path = _chunk(store, "train", "permeability", 1)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside the compressed payload: decodes to other values, or fails to decode
    path.write_bytes(bytes(data))
    return r"train/permeability (of train shard 1 \(samples 4:8\) does not match|samples 4:8 \(shard 1\))"


def _swap_chunk_files(store: Path) -> str:
    a, b = _chunk(store, "train", "fields", 0), _chunk(store, "train", "fields", 1)
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)  # both decode perfectly: only the checksums tell the samples are in the wrong place
    return r"train/fields of train shard 0 \(samples 0:4\) does not match"


def _delete_theta_chunk(store: Path) -> str:
    _chunk(store, "test", "theta", 0).unlink()
    return r"test/theta of test shard 0 \(samples 0:4\) does not match"


FAULTS = [_delete_fields_chunk, _flip_byte_in_lz4_chunk, _swap_chunk_files, _delete_theta_chunk]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.__name__.strip("_"))
def test_damaged_store_is_refused_reported_and_repaired(store: Path, tmp_path: Path, fault, tree_bytes,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    pristine = tree_bytes(store)
    where = fault(store)
    split = "test" if "test" in where else "train"
    repair = f"vaetk generate darcy --out {store} --resume"
    # every read path refuses, naming the store, the split, the shard, the array, and what to do
    for read in (lambda: DarcyDataset(store, split=split), lambda: export_hdf5(store, tmp_path / "x.h5", split=split),
                 lambda: export_pdebench(store, tmp_path / "pde")):
        with pytest.raises(DataError, match=where) as err:
            read()
        message = str(err.value)
        assert repr(str(store)) in message and f"vaetk info {store} --verify" in message and repair in message
    assert not (tmp_path / "x.h5").exists() and not list(tmp_path.glob("pde*"))
    # `vaetk info --verify` lists the damaged shard, says how to repair it, and fails
    assert main(["info", str(store), "--verify"]) == 1
    printed = capsys.readouterr().out
    assert "status: DAMAGED" in printed and "DAMAGED shards" in printed and repair in printed
    assert main(["info", str(store)]) == 0  # without --verify: flags only, and it says so
    assert "--verify" in capsys.readouterr().out
    # the repair command (no CONFIG: the store's own) regenerates exactly the damaged shard and says so
    assert main(["generate", "darcy", "--out", str(store), "--resume", "--workers", "1", "--no-progress"]) == 0
    assert re.search(rf"repaired: regenerated the damaged shard\(s\) {split} \[[\d, ]+\]", capsys.readouterr().out)
    assert tree_bytes(store) == pristine
    assert main(["info", str(store), "--verify"]) == 0
    assert "complete, verified" in capsys.readouterr().out
    DarcyDataset(store, split=split)


def test_verify_store_and_read_shard(store: Path) -> None:
    info = open_store(store)
    assert _store.verify_store(info) == {}
    _swap_chunk_files(store)
    damaged = _store.verify_store(open_store(store))
    assert list(damaged) == ["train"] and sorted(damaged["train"]) == [0, 1]
    assert generate(None, store, resume=True, n_workers=1).repaired == {"train": [0, 1]}
    assert generate(None, store, resume=True, n_workers=1).repaired == {}
    _swap_chunk_files(store)
    arrays = _store.read_shard(open_store(store), "train", 0, verify=False)  # opt-out for forensics only
    assert arrays["fields"].shape == (4, 3, 17, 17)
    with pytest.raises(DataError, match="corrupted"):
        _store.read_shard(open_store(store), "train", 0)


def test_generate_without_config_needs_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "darcy", "--out", str(tmp_path / "new.zarr"), "--no-progress"]) != 0
    assert "CONFIG is required" in capsys.readouterr().err and not (tmp_path / "new.zarr").exists()
    with pytest.raises(DataError, match="without a configuration"):
        generate(None, tmp_path / "nothing.zarr", resume=True)


# -- item 2: a store whose creation was interrupted ---------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _lock_only_store(root: Path, pid: int) -> None:
    """What a generate killed in its first second leaves: the directory and the lock naming a dead process."""
    import socket

    lock = root / "_vaetk" / "lock"
    lock.mkdir(parents=True)
    (lock / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {
        "owner": {"pid": pid, "host": socket.gethostname(), "started": "2024-01-01T00:00:00"}}}))


@pytest.mark.parametrize("mode", ["resume", "overwrite"])
def test_store_killed_while_being_created_can_be_resumed_or_overwritten(tmp_path: Path, small_config, mode: str,
                                                                        store_arrays, pristine_store: Path) -> None:
    config = small_config(train=8, test=4)
    out = tmp_path / "s.zarr"
    _lock_only_store(out, _dead_pid())
    generate(config, out, seed=3, shard_size=4, n_workers=1, **{mode: True})
    assert open_store(out).complete and not (out / "_vaetk" / "lock").exists()
    reference = store_arrays(pristine_store)
    assert all(np.array_equal(v, reference[k]) for k, v in store_arrays(out).items())


def test_store_locked_by_a_live_process_while_being_created_is_left_alone(tmp_path: Path, small_config) -> None:
    out = tmp_path / "s.zarr"
    _lock_only_store(out, os.getpid())
    for mode in ("resume", "overwrite"):
        with pytest.raises(DataError, match=f"being written by process {os.getpid()}"):
            generate(small_config(), out, n_workers=1, **{mode: True})
    assert (out / "_vaetk" / "lock" / "zarr.json").exists()


@pytest.mark.parametrize("where", ["kle", "verification"])
@pytest.mark.parametrize("mode", ["resume", "overwrite"])
def test_memory_error_while_creating_leaves_a_store_that_resumes(tmp_path: Path, small_config, monkeypatch,
                                                                 where: str, mode: str) -> None:
    import vaetk.darcy._kle as kle
    import vaetk.darcy._verify as verify

    config = small_config(train=3, test=0)
    out = tmp_path / "s.zarr"
    module, name = (kle, "kle_basis") if where == "kle" else (verify, "observed_order")
    original = getattr(module, name)

    def out_of_memory(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MemoryError

    monkeypatch.setattr(module, name, out_of_memory)
    with pytest.raises(MemoryError):
        generate(config, out, seed=1, shard_size=2, n_workers=1)
    assert _store.started_store(out)  # recognised as vaetk's own, half-created store
    with pytest.raises(DataError, match="Pass --resume"):
        generate(config, out, seed=1, n_workers=1)
    monkeypatch.setattr(module, name, original)
    generate(config, out, seed=1, shard_size=2, n_workers=1, **{mode: True})
    assert open_store(out).complete


def test_foreign_directory_with_vaetk_looking_names_is_not_taken(tmp_path: Path, small_config) -> None:
    out = tmp_path / "s.zarr"
    (out / "_vaetk").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    assert not _store.started_store(out)
    with pytest.raises(DataError, match="not a vaetk dataset store"):
        generate(small_config(), out, n_workers=1, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


KILL_EARLY = textwrap.dedent("""
    import sys, time
    from vaetk.data import _generate as gen
    def hang(*args, **kwargs):
        print("CREATING", flush=True)
        time.sleep(600)
    gen._create_store = hang
    gen.generate(CONFIG, sys.argv[1], seed=3, shard_size=4, n_workers=1)
""")


def test_generate_sigkilled_in_its_first_second_resumes(tmp_path: Path, small_config) -> None:
    config = small_config(train=4, test=0)
    out = tmp_path / "s.zarr"
    proc = subprocess.Popen([sys.executable, "-c", KILL_EARLY.replace("CONFIG", repr(config)), str(out)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "CREATING"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()
    assert {p.name for p in out.iterdir()} == {"_vaetk"} and (out / "_vaetk" / "lock" / "zarr.json").exists()
    generate(config, out, seed=3, shard_size=4, n_workers=1, resume=True)
    assert open_store(out).complete


def test_a_damaged_kle_basis_is_found_by_verify_and_repaired_on_resume(tmp_path, capsys):
    """kle_modes (which regenerated shards are built from) is checked against the SHA-256 recorded at creation."""
    import zarr

    from vaetk.cli.__main__ import main
    from vaetk.data import generate

    out = tmp_path / "s.zarr"
    generate({"n": 9, "split": {"train": 8, "test": 0}}, out, seed=0, n_workers=1)
    modes = zarr.open_array(out / "kle_modes", mode="r+")
    original = modes[...]
    modes[0, 0, 0] = original[0, 0, 0] + 1e-3  # a plausible, silent change
    assert main(["info", str(out), "--verify"]) == 1
    assert "KLE basis DAMAGED: kle_modes does not match the SHA-256" in capsys.readouterr().out
    assert main(["generate", "darcy", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert "recomputed the KLE basis" in capsys.readouterr().out
    assert (zarr.open_array(out / "kle_modes", mode="r")[...] == original).all()
    assert main(["info", str(out), "--verify"]) == 0
