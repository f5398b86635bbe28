"""Run directories and the CLI: train, evaluate, resume, refusal of foreign runs, model files, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vaetk.cli.__main__ import main
from vaetk.errors import ConfigError, DataError, PluginNotFoundError
from vaetk.training import VersionMismatchWarning, list_presets, load_experiment, parse_experiment
from vaetk.training._run import load_model, train_experiment

EXPERIMENT = """
name = "tiny"
[data]
path = "{store}"
[model]
latent_dim = 2
[model.architecture]
name = "small"
channels = [4, 8]
hidden = 16
[model.prior]
name = "standard_normal"
[training]
epochs = {epochs}
batch_size = 16
lr = 3e-3
checkpoint_every = 2
device = "cpu"
n_threads = 1
# A 4-epoch model of standardised data is still at its start, the constant predictor; these tests are about run
# directories, the detector has its own.
detector_reg_tol = 1e-6
[schedule]
kind = "klushyn"
reconstruction_epochs = {recon}
beta0 = 1e-3
nu = 0.05
[semi_supervised]
n_labels = 3
label_seed = 4
[evaluation]
metrics = []
n_reconstructions = 2
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from vaetk.data import generate

    path = tmp_path_factory.mktemp("data") / "tiny.zarr"
    generate({"n": 9, "split": {"train": 40, "test": 16}}, path, seed=3, n_workers=1)
    return path


def write_experiment(folder: Path, store: Path, epochs: int = 4, **replace: str) -> Path:
    # the reconstruction phase must end before the run does (an error otherwise)
    text = EXPERIMENT.format(store=store, epochs=epochs, recon=min(2, epochs - 1))
    for old, new in replace.items():
        text = text.replace(old, new)
    path = folder / "experiment.toml"
    path.write_text(text)
    return path


def test_train_evaluate_and_reload(tmp_path, store, capsys):
    exp = write_experiment(tmp_path, store)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    for name in ("experiment.toml", "provenance.json", "checkpoint.pt", "history.csv", "history.json", "model.pt",
                 "model.json", "summary.json"):
        assert (run / name).is_file(), name
    lines = (run / "history.csv").read_text().splitlines()
    assert len(lines) == 5 and lines[0].startswith("epoch,lr,beta")
    provenance = json.loads((run / "provenance.json").read_text())
    assert len(provenance["label_indices"]) == 3 and provenance["seed"] == 0
    assert provenance["versions"]["plugins"]["architecture"]["name"] == "small"

    model, config = load_model(run)
    assert config.name == "tiny" and not model.training
    state = torch.load(run / "model.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # The decoder-mean offset is recorded in the run's config and travels with the weights.
    assert "init_decoder_mean = true" in (run / "experiment.toml").read_text()
    assert float(model.architecture.decoder_offset.abs().max()) > 0.1

    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "evaluated" in out and "S_D" in out
    report = json.loads((run / "report.json").read_text())
    assert report["evaluated_on"] == "test" and report["n_samples"] == 16
    for plot in ("latent_space", "latents_vs_factors", "reconstructions", "training_curves"):
        assert (run / "plots" / f"{plot}.png").stat().st_size > 1000
    assert "| test |" in (run / "report.md").read_text()


ALL_METRICS = ('metrics = [{name = "sd"}, {name = "skl"}, {name = "skl", k = 3}, {name = "mig"}, {name = "dci"}, '
               '{name = "sap"}, {name = "tc"}]')


@pytest.fixture(scope="module")
def store48(tmp_path_factory):
    """48 test samples: enough for S_KL's cross-fitted k-NN estimate (24 for k = 5)."""
    from vaetk.data import generate

    path = tmp_path_factory.mktemp("data48") / "tiny48.zarr"
    generate({"n": 9, "split": {"train": 40, "test": 48}}, path, seed=3, n_workers=1)
    return path


def test_every_configured_metric_is_in_the_report(tmp_path, store48, capsys):
    exp = write_experiment(tmp_path, store48, epochs=2, **{"metrics = []": ALL_METRICS})
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    assert main(["evaluate", str(run), "--no-plots"]) == 0
    out = capsys.readouterr().out
    report = json.loads((run / "report.json").read_text())
    markdown = (run / "report.md").read_text()
    # One entry per table, in order; a name configured twice is told apart by its table index.
    keys = ["sd", "skl[1]", "skl[2]", "mig", "dci", "sap", "tc"]
    assert list(report["metrics"]) == keys
    assert report["metrics"]["skl[2]"]["config"]["k"] == 3 and report["metrics"]["skl[1]"]["config"]["k"] == 5
    for key in keys:
        record = report["metrics"][key]
        assert record["error"] is None, record["error"]
        primary = record["primary"]
        assert next(iter(record["scores"])) == primary
        assert all(isinstance(v, float) for v in record["scores"].values()), record["scores"]
        assert f"`{key}` **{primary} {record['scores'][primary]:.4f}**" in markdown
        assert f"metric {key}: {primary} {record['scores'][primary]:.4f}" in out
    assert report["metrics"]["skl[1]"]["higher_is_better"] is False and report["metrics"]["sd"]["higher_is_better"]


def test_a_failing_metric_is_reported_and_the_others_still_computed(tmp_path, store, capsys):
    from vaetk.training._evaluate import MetricFailedWarning

    # 16 test samples: S_KL's cross-fitted halves of 8 cannot have 12 neighbours.
    exp = write_experiment(tmp_path, store, epochs=1,
                           **{"metrics = []": 'metrics = [{name = "skl", k = 12}, {name = "sd"}]'})
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    with pytest.warns(MetricFailedWarning, match=r"metric 'skl' \(evaluation.metrics\[0\]\) failed"):
        assert main(["evaluate", str(run), "--no-plots"]) == 1
    captured = capsys.readouterr()
    assert "metric(s) skl failed" in captured.err and "metric skl: FAILED:" in captured.out
    report = json.loads((run / "report.json").read_text())
    assert report["metrics"]["skl"]["scores"] == {} and "16 samples" in report["metrics"]["skl"]["error"]
    assert report["metrics"]["sd"]["error"] is None and 0.0 <= report["metrics"]["sd"]["scores"]["sd"] <= 1.0
    assert "`skl` FAILED:" in (run / "report.md").read_text()


def test_resume_after_interruption_gives_the_same_model(tmp_path, store):
    exp = load_experiment(write_experiment(tmp_path, store, epochs=5))
    reference = train_experiment(exp, tmp_path / "a")

    def crash(trainer, row):
        if trainer.epoch == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_experiment(exp, tmp_path / "b", callbacks=[crash])
    assert not (tmp_path / "b" / "model.pt").exists()
    assert main(["train", str(tmp_path / "experiment.toml"), "--out", str(tmp_path / "b"), "--resume",
                 "--no-progress"]) == 0
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    history = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert history[-1]["train_rec_per_pixel"] == reference.history[-1]["train_rec_per_pixel"]


def test_run_directory_protection(tmp_path, store, capsys):
    exp = write_experiment(tmp_path, store, epochs=1)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 1
    assert "already holds this run (1 epochs). Pass --resume" in capsys.readouterr().err
    other = write_experiment(tmp_path, store, epochs=1, **{"lr = 3e-3": "lr = 1e-3"})
    assert main(["train", str(other), "--out", str(run), "--resume", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "already holds a different run (training.lr: 0.003 there, 0.001 here)" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # nothing overwritten

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["train", str(exp), "--out", str(foreign), "--no-progress"]) == 1
    assert "is not a vaetk run directory" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine"


def test_corrupted_checkpoint_and_model_files(tmp_path, store, capsys):
    exp = write_experiment(tmp_path, store, epochs=2)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    assert main(["train", str(exp), "--out", str(run), "--resume", "--no-progress"]) == 1
    assert "checkpoint.pt' is corrupted or not a vaetk file" in capsys.readouterr().err

    (run / "model.pt").write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="model.pt' is corrupted"):
        load_model(run)
    (run / "model.pt").unlink()
    with pytest.raises(DataError, match="model.pt' does not exist"):
        load_model(run)


def test_version_mismatch_warns_or_refuses(tmp_path, store):
    exp = write_experiment(tmp_path, store, epochs=1)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    meta = json.loads((run / "model.json").read_text())
    meta["versions"]["vaetk"] = "0.0.1"
    meta["versions"]["plugins"]["prior"]["version"] = "9.9"
    (run / "model.json").write_text(json.dumps(meta))
    (run / "model.json.sha256").unlink()  # as an older vaetk wrote it (no checksum): the edit is not damage
    with pytest.warns(VersionMismatchWarning, match=r"vaetk 0.0.1 \(now .*\); prior 'standard_normal' from"):
        load_model(run)
    with pytest.raises(DataError, match="written with vaetk 0.0.1"):
        load_model(run, strict_versions=True)


@pytest.mark.parametrize(("edit", "error", "message"), [
    ({"[training]": "[trainig]"}, ConfigError, r"trainig: unknown key; did you mean 'training'"),
    ({"batch_size = 16": "batch_sise = 16"}, ConfigError,
     r"training\.batch_sise: unknown key; did you mean 'batch_size'"),
    ({"epochs = 1": 'epochs = "ten"'}, ConfigError, r"training\.epochs: expected an integer, got 'ten'"),
    ({'name = "small"': 'name = "smal"'}, PluginNotFoundError,
     r"model\.architecture\.name: Unknown architecture 'smal'"),
    ({'name = "standard_normal"': 'name = "standard_norma"'}, PluginNotFoundError, r"Did you mean 'standard_normal'"),
    ({"hidden = 16": "hiden = 16"}, ConfigError, r"model\.architecture\.hiden: unknown key; did you mean 'hidden'"),
    ({'kind = "klushyn"': 'kind = "cyclic"'}, ConfigError, r"schedule\.kind: unknown beta schedule 'cyclic'"),
    ({"n_labels = 3": "n_labels = 41"}, DataError, r"n_labels = 41 is larger than the training set \(40 samples\)"),
    ({"latent_dim = 2": "latent_dim = 3"}, DataError, r"one generative parameter per latent dimension"),
    ({'path = "': 'path = "/nonexistent'}, DataError, r"no dataset at '/nonexistent"),
])
def test_bad_experiment_files(tmp_path, store, edit, error, message):
    exp = write_experiment(tmp_path, store, epochs=1, **edit)
    with pytest.raises(error, match=message):
        train_experiment(load_experiment(exp), tmp_path / "run")
    assert not (tmp_path / "run" / "model.pt").exists()


@pytest.mark.parametrize(("table", "message"), [
    ({"model": {"prior": {"name": "gausian"}}},
     r"exp: model\.prior\.name: Unknown prior 'gausian'\. Did you mean 'gaussian'"),
    ({"model": {"architecture": {"name": "smal"}}},
     r"exp: model\.architecture\.name: Unknown architecture 'smal'\. Did you mean 'small'"),
    ({"evaluation": {"metrics": [{"name": "sd"}, {"name": "skll"}]}},
     r"exp: evaluation\.metrics\[1\]\.name: Unknown metric 'skll'\. Did you mean 'skl'"),
])
def test_misspelt_component_names_fail_at_parse_time(table, message):
    # No data exists at this path: the error must come from parsing, before anything is loaded.
    data = {"data": {"path": "/nonexistent/data.zarr"}, **table}
    with pytest.raises(PluginNotFoundError, match=message):
        parse_experiment(data, source="exp")


def test_plugin_parameters_are_checked_at_parse_time():
    with pytest.raises(ConfigError, match=r"exp: model\.prior\.varianse: unknown key; did you mean 'variance'"):
        parse_experiment({"model": {"prior": {"name": "gaussian", "varianse": [1.0, 2.0]}}}, source="exp")
    config = parse_experiment({"model": {"prior": {"name": "gaussian", "variance": [1.0, 2.0]}}})
    assert config.model.prior == {"name": "gaussian", "variance": [1.0, 2.0]}  # the table is kept as written


def test_presets_load_and_resolve():
    from vaetk.config import resolve_component

    names = list_presets()
    assert {"kle2_standard_normal", "shifted_gaussian_plain", "shifted_gaussian_hierarchical", "mixture_plain",
            "mixture_hierarchical", "semi_supervised", "demo"} <= set(names)
    for name in names:
        config = load_experiment(name)
        resolve_component("architectures", config.model.architecture, path="model.architecture")
        resolve_component("priors", config.model.prior, path="model.prior")
    assert load_experiment("semi_supervised").semi_supervised.n_labels == 8
    assert load_experiment("mixture_hierarchical").model.prior["name"] == "hierarchical"
    with pytest.raises(ConfigError, match="is not an experiment preset. Did you mean 'mixture_plain'"):
        load_experiment("mixture_plane")


@pytest.mark.parametrize("prior", ['name = "gaussian"\nvariance = [1.0, 2.0]', 'name = "hierarchical"\nhidden = [8]'])
def test_every_builtin_prior_trains_through_the_same_loop(tmp_path, store, prior):
    exp = write_experiment(tmp_path, store, epochs=2, **{'name = "standard_normal"': prior})
    result = train_experiment(load_experiment(exp), tmp_path / "run")
    assert all(torch.isfinite(torch.tensor(v)) for v in result.final.values())
    model, _ = load_model(tmp_path / "run")
    assert type(model.prior).__name__.lower().startswith(prior.split('"')[1][:5])
