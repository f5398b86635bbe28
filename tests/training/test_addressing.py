"""How experiments and datasets are named on the command line: presets are unambiguous whatever the working
directory holds, data.path does not depend on where a run is evaluated from, ``--set`` and ``--resume`` to more
epochs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaetk.cli.__main__ import main
from vaetk.data._generate import load_config
from vaetk.errors import ConfigError
from vaetk.training import load_experiment

from .test_runs import store, write_experiment  # noqa: F401 - the module-scoped tiny store fixture


def test_presets_win_over_files_and_folders_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()  # `vaetk demo` run where ./demo exists used to read the folder
    (tmp_path / "kle2_standard_normal").write_text("not toml")
    assert load_experiment("demo").name == load_experiment("preset:demo").name == "demo"
    assert load_config("kle2_standard_normal").n == load_config("preset:kle2_standard_normal").n
    with pytest.raises(ConfigError, match="'demo/' is a folder, not an experiment file"):
        load_experiment("demo/")
    (tmp_path / "mine").write_text("x = 1")
    with pytest.raises(ConfigError, match="not an experiment preset.*To read the file 'mine' in this folder, "
                                          "write ./mine"):
        load_experiment("mine")
    with pytest.raises(ConfigError, match="not a dataset preset.*Did you mean 'kle2_standard_normal'"):
        load_config("preset:kle2_standard_norma")


def test_data_path_is_relative_to_the_experiment_file_and_recorded_absolute(tmp_path, store, monkeypatch):  # noqa: F811
    folder = tmp_path / "configs"
    folder.mkdir()
    os.symlink(store, folder / "data.zarr")
    path = write_experiment(folder, Path("data.zarr"), epochs=1)  # data.path = "data.zarr", next to the TOML
    monkeypatch.chdir(tmp_path)
    assert main(["train", "configs/experiment.toml", "--out", "run", "--no-progress"]) == 0
    recorded = (tmp_path / "run" / "experiment.toml").read_text()
    assert f'path = "{folder / "data.zarr"}"' in recorded
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # evaluating from another folder finds the data
    assert main(["evaluate", str(tmp_path / "run"), "--no-plots"]) == 0
    assert path.is_file()


def test_set_on_train_and_resume_to_more_epochs(tmp_path, store, capsys):  # noqa: F811
    exp = write_experiment(tmp_path, store, epochs=2)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--set", "training.lr=1e-3", "--no-progress"]) == 0
    assert "lr = 0.001" in (run / "experiment.toml").read_text()
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 2

    # the same run, given more epochs: refused without --resume (with the hint), continued with it
    args = ["train", str(exp), "--out", str(run), "--set", "training.lr=1e-3", "--set", "training.epochs=4"]
    assert main([*args, "--no-progress"]) == 1
    assert "Pass --resume to continue it (also to a larger training.epochs)" in capsys.readouterr().err
    assert main([*args, "--resume", "--no-progress"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert "epochs = 4" in (run / "experiment.toml").read_text()
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["epochs_extended"] == [{"from_epochs": 2, "to_epochs": 4, "at_epoch": 2}]

    # fewer epochs than already trained: a clear refusal, nothing changed
    shorter = ["train", str(exp), "--out", str(run), "--set", "training.lr=1e-3", "--set", "training.epochs=3"]
    assert main([*shorter, "--resume", "--no-progress"]) == 1
    assert "has already trained 4 epochs" in capsys.readouterr().err
    assert main(["train", str(exp), "--out", str(tmp_path / "x"), "--set", "training.bogus=1"]) == 1
    assert "with --set training.bogus: training.bogus: unknown key" in capsys.readouterr().err


def test_version_and_a_closed_pipe_end_quietly() -> None:
    version = subprocess.run([sys.executable, "-m", "vaetk.cli", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("vaetk ")
    # `vaetk plugins list | head -1`: the reader closes the pipe early; no traceback on stderr
    proc = subprocess.Popen([sys.executable, "-m", "vaetk.cli", "plugins", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err


def test_set_on_evaluate_changes_only_the_evaluation(tmp_path, store, capsys):  # noqa: F811
    exp = write_experiment(tmp_path, store, epochs=1)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-plots", "--set", 'evaluation.metrics=[{name = "sd"}]']) == 0
    report = json.loads((run / "report.json").read_text())
    assert list(report["metrics"]) == ["sd"]
    assert main(["evaluate", str(run), "--no-plots", "--set", "training.lr=1"]) == 1
    assert "evaluation can only change evaluation.* keys" in capsys.readouterr().err


def test_a_prior_registered_in_process_evaluates_there_and_elsewhere_says_how(tmp_path, store, capsys):  # noqa: F811
    from vaetk.registry import registry
    from vaetk.training._evaluate import evaluate_run

    class LaplaceLocal(registry.priors.get("standard_normal")):
        name = "laplace_local"

    exp = write_experiment(tmp_path, store, epochs=1, **{'name = "standard_normal"': 'name = "laplace_local"'})
    run = tmp_path / "run"
    with registry.priors.temporarily("laplace_local", LaplaceLocal):
        assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
        assert evaluate_run(run, plots=False)["losses"]["train"]["rec_per_pixel"] < 0  # same process: works
    # a process that never registered it (here: after unregistering) is told why and what to do
    assert main(["evaluate", str(run), "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "Unknown prior 'laplace_local'" in err and "was registered in-process" in err
    assert "package it with an entry point" in err


def test_set_on_generate(tmp_path, capsys):
    import zarr

    args = ["generate", "darcy", "preset:kle2_standard_normal", "--out", str(tmp_path / "s.zarr"), "--seed", "1",
            "--workers", "1", "--no-progress", "--set", "n=9", "--set", "split={train = 8, test = 4}"]
    assert main(args) == 0
    root = zarr.open_group(tmp_path / "s.zarr", mode="r")
    assert root["train"]["fields"].shape == (8, 3, 9, 9) and root.attrs["config"]["n"] == 9
    assert main([*args[:4], str(tmp_path / "t.zarr"), "--set", "kle.bogus=1"]) == 1
    assert "kle2_standard_normal.kle.bogus: unknown key" in capsys.readouterr().err
