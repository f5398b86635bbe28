"""Resume after a real SIGKILL, a full disk, damaged/foreign stores, locks, and configuration mistakes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vaetk.data import DarcyDataset, export_hdf5, generate, open_store
from vaetk.data import _generate as gen
from vaetk.data._generate import load_config
from vaetk.errors import ConfigError, DataError, PluginNotFoundError

KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    import numpy as np
    from vaetk.data import _generate as gen

    original = gen.write_shard_arrays
    def write_then_hang(root, split, start, arrays):
        if split == "train" and start == 8:  # third shard: write half its arrays, wait to be killed
            original(root, split, start, {"fields": arrays["fields"]})
            print("MID-SHARD", flush=True)
            time.sleep(600)
        original(root, split, start, arrays)
    gen.write_shard_arrays = write_then_hang
    gen.generate(dict(CONFIG), sys.argv[1], seed=11, shard_size=4, n_workers=1)
""")


def test_resume_after_sigkill_mid_shard_is_byte_identical(tmp_path: Path, small_config, tree_bytes) -> None:
    config = small_config(n=17, train=14, test=5)
    reference = tmp_path / "reference.zarr"
    generate(config, reference, seed=11, shard_size=4, n_workers=1)

    killed = tmp_path / "killed.zarr"
    script = KILL_SCRIPT.replace("dict(CONFIG)", repr(config))
    proc = subprocess.Popen([sys.executable, "-c", script, str(killed)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "MID-SHARD", f"the generator did not reach the third shard (got {line!r})"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    info = open_store(killed)
    assert (
        not info.complete and info.missing_shards("train") == [2, 3] and info.missing_shards("test") == [0, 1]
    )
    assert (killed / "_vaetk" / "lock").exists()  # left behind by the killed run
    with pytest.raises(DataError, match="incomplete .*--resume"):
        DarcyDataset(killed)

    generate(config, killed, resume=True, n_workers=1)  # seed and shard size come from the store
    assert tree_bytes(reference) == tree_bytes(killed)
    assert not (killed / "_vaetk" / "lock").exists()


def test_disk_full_mid_run_keeps_completed_shards_and_resume_finishes(
    tmp_path: Path, small_config, tree_bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = small_config(train=12, test=0)
    reference = tmp_path / "reference.zarr"
    generate(config, reference, seed=5, shard_size=4, n_workers=1)
    out = tmp_path / "full.zarr"
    original = gen.write_shard_arrays

    def fill_up(root, split, start, arrays):  # type: ignore[no-untyped-def]
        if start == 8:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(root, split, start, arrays)

    monkeypatch.setattr(gen, "write_shard_arrays", fill_up)
    with pytest.raises(DataError, match=r"the disk is full\. 8 samples .* kept.*--resume"):
        generate(config, out, seed=5, shard_size=4, n_workers=1)
    before = tree_bytes(out)
    info = open_store(out)
    assert info.missing_shards("train") == [2] and not (out / "_vaetk" / "lock").exists()
    monkeypatch.setattr(gen, "write_shard_arrays", original)
    generate(config, out, seed=5, resume=True, n_workers=1)
    after = tree_bytes(out)
    assert all(
        after[k] == v for k, v in before.items() if "/c/0" in k or "/c/1" in k
    )  # completed shards untouched
    assert tree_bytes(reference) == after


def test_resume_regenerates_a_damaged_shard(tmp_path: Path, small_config, tree_bytes) -> None:
    config = small_config(train=8, test=0)
    out = tmp_path / "s.zarr"
    generate(config, out, seed=2, shard_size=4, n_workers=1)
    pristine = tree_bytes(out)
    chunk = out / "train" / "fields" / "c" / "1" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:50])  # truncated
    with pytest.raises(DataError, match=r"corrupted: cannot read train/fields samples 4:8 \(shard 1\)"):
        DarcyDataset(out)
    with pytest.raises(DataError, match="corrupted"):
        export_hdf5(out, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    generate(config, out, resume=True, n_workers=1)
    assert tree_bytes(out) == pristine


def test_checksums_catch_decodable_damage_in_current_and_format_1_stores(
    tmp_path: Path, small_config, tree_bytes
) -> None:
    from vaetk.data import _store
    from vaetk.data._store import array_sha256, describe_store, flag_path, read_shard

    config = small_config(train=8, test=0)
    out = tmp_path / "s.zarr"
    generate(config, out, seed=2, shard_size=4, n_workers=1)
    pristine = tree_bytes(out)
    open_store(out, mode="r+").root["train"]["permeability"][5, 3, 3] = 0.5  # a wrong value that decodes fine
    assert "DAMAGED shards [1]" in describe_store(out, verify=True)
    generate(config, out, resume=True, n_workers=1)
    assert tree_bytes(out) == pristine

    # A format 1 store (SHA-256 flags, as vaetk wrote before CRC-32) is still read and verified.
    info = open_store(out)
    for k in range(2):
        path = flag_path(out, "train", k)
        meta = json.loads(path.read_text())
        meta["attributes"].pop("crc32")
        meta["attributes"]["sha256"] = {n: array_sha256(v) for n, v in read_shard(info, "train", k).items()}
        path.write_text(json.dumps(meta))
    meta = json.loads((out / "zarr.json").read_text())
    meta["attributes"]["vaetk_store"]["format_version"] = 1
    (out / "zarr.json").write_text(json.dumps(meta))
    assert "all completed shards match their checksums" in describe_store(out, verify=True)
    open_store(out, mode="r+").root["train"]["fields"][1, 0, 2, 2] += 1.0
    assert "DAMAGED shards [0]" in describe_store(out, verify=True)
    assert not _store.verify_shard(open_store(out), "train", 0) and _store.verify_shard(open_store(out), "train", 1)


def test_existing_output_needs_resume_or_overwrite(tmp_path: Path, small_config, store_arrays) -> None:
    out = tmp_path / "s.zarr"
    generate(small_config(train=2, test=0), out, seed=1, n_workers=1)
    with pytest.raises(DataError, match=r"already holds a dataset store\. Pass --resume .* or --overwrite"):
        generate(small_config(train=2, test=0), out, seed=1, n_workers=1)
    generate(small_config(train=3, test=0), out, seed=2, overwrite=True, n_workers=1)
    assert open_store(out).attrs["seed"] == 2 and store_arrays(out)["train/theta"].shape == (3, 2)


def test_resume_with_different_settings_is_refused(tmp_path: Path, small_config) -> None:
    out = tmp_path / "s.zarr"
    generate(small_config(train=2, test=0), out, seed=1, n_workers=1)
    with pytest.raises(ConfigError, match=r"Cannot resume .*seed: store has 1, requested 3"):
        generate(small_config(train=2, test=0), out, seed=3, resume=True)
    with pytest.raises(
        ConfigError, match=r"Cannot resume .*scheme: store has 'paper', requested 'conservative'"
    ):
        generate(small_config(train=2, test=0, scheme="conservative"), out, resume=True)


def test_foreign_directories_and_stores_are_never_touched(tmp_path: Path, small_config) -> None:
    import zarr

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("precious")
    for kwargs in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(
            DataError, match="not a vaetk dataset store. vaetk will not write into or delete it"
        ):
            generate(small_config(), other, **kwargs)
    assert (other / "notes.txt").read_text() == "precious"

    foreign = tmp_path / "foreign.zarr"
    zarr.open_group(foreign, mode="w").create_array("x", shape=(2,), dtype="float32")
    with pytest.raises(DataError, match="is a Zarr store but not a vaetk Darcy dataset"):
        open_store(foreign)
    with pytest.raises(DataError, match="not a vaetk dataset store"):
        generate(small_config(), foreign, overwrite=True)
    assert (foreign / "x" / "zarr.json").exists()

    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        generate(small_config(), tmp_path / "file")
    with pytest.raises(DataError, match="No dataset store at"):
        open_store(tmp_path / "missing.zarr")


def test_corrupted_store_metadata(tmp_path: Path, small_config) -> None:
    out = tmp_path / "s.zarr"
    generate(small_config(train=2, test=0), out, seed=1, n_workers=1)
    damaged = tmp_path / "d1.zarr"
    shutil.copytree(out, damaged)
    (damaged / "zarr.json").write_text("{ not json")
    with pytest.raises(DataError, match=r"corrupted: its root metadata .* cannot be read"):
        open_store(damaged)
    damaged = tmp_path / "d2.zarr"
    shutil.copytree(out, damaged)
    shutil.rmtree(damaged / "train" / "theta")
    with pytest.raises(DataError, match="corrupted or truncated"):
        open_store(damaged)
    damaged = tmp_path / "d3.zarr"
    shutil.copytree(out, damaged)
    meta = json.loads((damaged / "zarr.json").read_text())
    meta["attributes"]["vaetk_store"]["format_version"] = 99
    (damaged / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="format version 99; this vaetk reads versions 1, 2"):
        open_store(damaged)


def test_a_live_lock_blocks_a_second_writer(tmp_path: Path, small_config) -> None:
    import socket

    out = tmp_path / "s.zarr"
    generate(small_config(train=2, test=0), out, seed=1, n_workers=1)
    lock = out / "_vaetk" / "lock"
    lock.mkdir()
    owner = {"pid": os.getppid(), "host": socket.gethostname(), "started": "earlier"}  # a live process
    (lock / "zarr.json").write_text(
        json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {"owner": owner}})
    )
    with pytest.raises(
        DataError, match=rf"being written by process {os.getppid()} .*Two runs cannot write one"
    ):
        generate(small_config(train=2, test=0), out, resume=True, n_workers=1)
    assert lock.exists()  # not ours to remove


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kle": {"lenght_scale": 0.2}}, r"kle\.lenght_scale: unknown key; did you mean 'length_scale'"),
        ({"n_mode": 2}, r"config\.n_mode: unknown key; did you mean 'n_modes'"),
        (
            {"scheme": "papr"},
            r"config\.scheme: expected one of 'paper', 'conservative', got 'papr'\. Did you mean 'paper'",
        ),
        ({"n": 2}, r"'n' parameter .* must be an int >= 3"),
        ({"split": {"train": -1}}, r"'train' parameter of the split must be an int >= 0"),
        ({"distribution": {"name": "standard_normal", "dim": 3}}, r"has dimension 3 but n_modes = 2"),
        ({"distribution": {"name": "gaussian", "std": [-1.0, 1.0]}}, r"'std' parameter .* must be > 0"),
        ({"kle": {"variance": 0.0}}, r"'variance' parameter of the KLE must be a number > 0"),
    ],
)
def test_config_mistakes_are_clear_errors(small_config, change: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(small_config(**change))


def test_unknown_distribution_and_preset_names_get_suggestions(tmp_path: Path, small_config) -> None:
    with pytest.raises(
        PluginNotFoundError, match=r"distribution\.name: Unknown distribution 'gausian'.*'gaussian'"
    ):
        load_config(small_config(distribution={"name": "gausian"}))
    with pytest.raises(ConfigError, match=r"Did you mean 'kle2_shifted_gaussian'"):
        load_config("kle2_shifted_gausian")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("n = 17\n[kle]\nlenght_scale = 0.1\n")
    with pytest.raises(ConfigError, match=r"kle\.lenght_scale: unknown key; did you mean 'length_scale'"):
        load_config(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shard_size": 0}, r"'shard_size' parameter of generate\(\) must be an int >= 1"),
        ({"seed": -1}, r"'seed' parameter of generate\(\) must be an int >= 0"),
        ({"n_workers": 0}, r"'n_workers' parameter .* must be an int >= 1"),
        ({"resume": True, "overwrite": True}, "resume and overwrite exclude each other"),
        ({"executor": "spark"}, r"Unknown executor 'spark'"),
        ({"scheduler": "spark"}, r"Unknown scheduler 'spark'"),
        ({"executor": "dask", "scheduler": "local"}, r"both say where tasks run"),
    ],
)
def test_bad_arguments(tmp_path: Path, small_config, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(small_config(train=2, test=0), tmp_path / "s.zarr", **{"n_workers": 1, **kwargs})


def test_solver_options_failures_named_by_global_index_and_a_resume_with_other_settings(tmp_path):
    from vaetk.data._generate import load_config
    from vaetk.errors import SolverError

    base = {"n": 17, "scheme": "conservative", "split": {"train": 12, "test": 0}}
    with pytest.raises(ConfigError, match="maxiterr"):
        load_config({**base, "solver": "native", "solver_options": {"maxiterr": 3}})
    out = tmp_path / "s.zarr"
    generate({**base, "solver": "native"}, out, seed=0, shard_size=4, n_workers=1)
    (out / "_vaetk" / "shards" / "train" / "000001" / "zarr.json").unlink()  # shard 1 to be made again
    starved = {**base, "solver": "native", "solver_options": {"maxiter": 1}}
    with pytest.raises(SolverError, match=r"Split 'train', global sample index 4, 5, 6, 7 \(shard 1; the solver "
                                          r"below counts from its first sample, 4\).*set solver / solver_options "
                                          r"in the config and run again with --resume"):
        generate(starved, out, seed=0, shard_size=4, n_workers=1, resume=True)
    # resumed with a working solver setting: allowed (the same discrete problem, solved to tolerance)
    info = generate({**base, "solver": "direct"}, out, seed=0, shard_size=4, n_workers=1, resume=True)
    assert info.complete


