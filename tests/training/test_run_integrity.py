"""Trust what is on disk, run directories (issue 15): checkpoint and model files carry a SHA-256 checked on load, so a
flipped byte that still loads is refused; one training per run directory (a lock, a dead owner's taken over)."""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from vaetk.errors import DataError
from vaetk.training import _files as files
from vaetk.training import load_experiment
from vaetk.training._run import load_model, train_experiment

from . import test_runs

store = test_runs.store  # the module-scoped tiny store fixture

def _experiment(tmp_path: Path, store: Path, epochs: int = 2):  # type: ignore[no-untyped-def]
    # test_runs' tiny experiment, with a checkpoint after every epoch
    return load_experiment(test_runs.write_experiment(tmp_path, store, epochs, **{
        "checkpoint_every = 2": "checkpoint_every = 1", "reconstruction_epochs = 2": "reconstruction_epochs = 1"}))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, store: Path) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("run")
    exp = _experiment(folder, store)
    train_experiment(exp, folder / "run")
    return folder / "run", exp


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def _flip_weight_byte(path: Path) -> None:
    """Flip one byte inside the largest tensor record of a torch zip file: it still loads, with another value."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2 + 3] ^= 0x40  # a high exponent bit of a float32
    path.write_bytes(bytes(data))


def test_checksums_are_recorded_for_checkpoint_and_model_files(trained) -> None:
    run, _ = trained
    for name in ("checkpoint.pt", "model.pt", "model.json"):
        record = json.loads((run / f"{name}.sha256").read_text())
        import hashlib

        assert record["sha256"] == hashlib.sha256((run / name).read_bytes()).hexdigest() and record["file"] == name
    assert not (run / files.LOCK).exists()  # released when training ended


def test_flipped_byte_in_checkpoint_is_refused_on_resume(trained, tmp_path: Path, store: Path) -> None:
    run = _copy(trained[0], tmp_path)
    _flip_weight_byte(run / "checkpoint.pt")
    torch.load(run / "checkpoint.pt", weights_only=True)  # the damage is invisible to torch: it loads
    exp = _experiment(tmp_path, store, epochs=3)
    with pytest.raises(DataError, match=r"checkpoint\.pt' does not match the SHA-256 recorded when it was written"):
        train_experiment(exp, run, resume=True)
    with pytest.raises(DataError, match="does not match the SHA-256"):
        files.load_checkpoint(run)


def test_flipped_byte_in_model_files_is_refused(trained, tmp_path: Path) -> None:
    run = _copy(trained[0], tmp_path)
    load_model(run)
    _flip_weight_byte(run / "model.pt")
    with pytest.raises(DataError, match=r"Model weights .*model\.pt' does not match the SHA-256"):
        load_model(run)
    run = _copy(trained[0], tmp_path / "b")
    meta = (run / "model.json").read_text()
    (run / "model.json").write_text(meta.replace('"lr": 0.003', '"lr": 0.004'))  # valid JSON, other values
    with pytest.raises(DataError, match=r"model\.json' does not match the SHA-256"):
        load_model(run)


def test_killed_between_checksum_and_file_still_loads(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pt"
    files.atomic_torch_save({"w": torch.ones(3)}, path)

    def killed(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt

    monkeypatch.setattr(files, "atomic_write_bytes", killed)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_torch_save({"w": torch.zeros(3)}, path)  # sidecar written, file not replaced
    assert torch.equal(files.torch_load(path, "Checkpoint")["w"], torch.ones(3))


def test_files_without_a_checksum_record_still_load(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, path)  # as vaetk wrote before recording checksums
    assert torch.equal(files.torch_load(path, "Model weights")["w"], torch.ones(2))
    files.write_checked(path, b"x")
    (path.with_name("model.pt.sha256")).write_text("{not json")
    with pytest.raises(DataError, match="checksum record .* is unreadable"):
        files.verify_file(path, "Model weights")


def test_second_training_into_the_same_run_directory_is_refused(tmp_path: Path, store: Path) -> None:
    exp = _experiment(tmp_path, store, epochs=2)
    run = tmp_path / "run"
    seen = []

    def second_process(trainer, row):  # type: ignore[no-untyped-def]
        if not seen:  # while the first training holds the directory
            with pytest.raises(DataError, match=f"is in use by process {os.getpid()}"):
                train_experiment(exp, run, resume=True)
            seen.append(row)

    train_experiment(exp, run, callbacks=[second_process])
    assert seen and (run / "model.pt").exists() and not (run / files.LOCK).exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path, store: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run = tmp_path / "run"
    run.mkdir()
    (run / files.LOCK).write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname(), "started": "x"}))
    train_experiment(_experiment(tmp_path, store, epochs=2), run)
    assert (run / "model.pt").exists() and not (run / files.LOCK).exists()


def test_refused_run_leaves_no_folder(tmp_path: Path, store: Path) -> None:
    exp = _experiment(tmp_path, store.with_name("missing.zarr"))
    with pytest.raises(DataError):
        train_experiment(exp, tmp_path / "new")
    assert not (tmp_path / "new").exists()
