"""The default sweep trial with vaetk's real trainer on a tiny generated Darcy store."""

from __future__ import annotations

import json

import pytest

from vaetk.sweeps import run_sweep, summarize_sweep


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    from vaetk.data import generate

    path = tmp_path_factory.mktemp("data") / "tiny.zarr"
    config = {"n": 17, "n_modes": 2, "scheme": "paper", "distribution": {"name": "standard_normal"},
              "split": {"train": 48, "test": 16}}
    generate(config, path, seed=7, n_workers=1)
    return path


def _experiment(store):
    return {
        "name": "tiny", "data": {"path": str(store)},
        "model": {"latent_dim": 2, "architecture": {"name": "small", "channels": [4], "hidden": 8},
                  "prior": {"name": "standard_normal"}},
        "training": {"epochs": 3, "batch_size": 16, "lr": 1e-3, "eval_every": 3, "device": "cpu"},
        "schedule": {"kind": "klushyn", "reconstruction_epochs": 1},
        "evaluation": {"metrics": [{"name": "sd"}]},
    }


@pytest.mark.slow
def test_default_trial_trains_scores_records_failures_and_resumes(tiny_store, tmp_path):
    exp = _experiment(tiny_store)
    res = run_sweep(exp, tmp_path, seeds=2, overrides={"training.lr": [1e-3, -1.0]}, workers=2, progress=False)
    assert [o.status for o in res.outcomes] == ["ok", "ok", "failed", "failed"]
    ok = res.outcomes[0]
    assert ok.result["split"] == "test" and ok.result["epochs"] == 3
    assert isinstance(ok.result["over_regularized"], bool) and 0.5 <= ok.result["sd"] <= 1.0
    assert ok.result["sd_floor"] == 0.5 and ok.result["sd_active_dims"] == 2.0  # no "sd_sd_floor"
    assert ok.result["loss_per_pixel"] == pytest.approx(ok.result["rec_per_pixel"] + ok.result["reg_per_pixel"])
    assert res.outcomes[0].result["loss_elbo"] != res.outcomes[1].result["loss_elbo"]  # seeds differ
    run = tmp_path / "trials" / ok.trial_id
    assert {"experiment.toml", "model.pt", "model.json", "summary.json", "history.csv"} <= {
        p.name for p in run.iterdir()}
    summary = json.loads((run / "summary.json").read_text())
    assert summary["over_regularized"] == ok.result["over_regularized"]
    bad = res.outcomes[2]
    assert bad.exit_status == 1 and "ConfigError" in bad.error and "lr" in bad.error
    (table,) = [s for s in summarize_sweep(tmp_path, write=False) if s.setting == {"training.lr": 0.001}]
    assert table.n_trials == 2 and table.sd.n == 2
    again = run_sweep(exp, tmp_path, seeds=2, overrides={"training.lr": [1e-3, -1.0]}, progress=False)
    assert [o.skipped for o in again.outcomes] == [True, True, False, False]


@pytest.mark.slow
def test_cli_analyses_on_trained_runs(tiny_store, tmp_path):
    from vaetk.cli.__main__ import main

    res = run_sweep(_experiment(tiny_store), tmp_path, seeds=2, progress=False)
    a, b = (tmp_path / "trials" / o.trial_id for o in res.outcomes)
    out = tmp_path / "out"
    common = ["--samples", "1", "--out", str(out)]
    assert main(["analyze", "rotation", str(a), "--angles", "3", *common]) == 0
    rot = json.loads((out / "rotation.json").read_text())
    assert len(rot["omega"]) == 3 and len(rot["scores"]["sd"]) == 3
    assert max(rot["rec_elbo"]) - min(rot["rec_elbo"]) <= 1e-4 * abs(rot["rec_elbo"][0])
    summary = rot["summary"]
    assert summary["reg_min"] == min(rot["reg_elbo"]) and summary["reg_trained"] == rot["reg_elbo"][0]
    assert summary["sd_max"] == max(rot["scores"]["sd"]) and summary["omega_sd_max"] in (0.0, 45.0, 90.0)
    assert main(["analyze", "landscape", str(a), "--inits", "1", "--directions", "1", "--points", "3", *common]) == 0
    inits = json.loads((out / "landscape_inits.json").read_text())
    assert inits[0]["t"] == [0.0, 0.5, 1.0]
    assert main(["analyze", "landscape", str(a), "--other", str(b), "--points", "3", *common]) == 0
    line = json.loads((out / "landscape_two_models.json").read_text())
    assert len(line["scores"]["sd"]) == 3
    assert main(["analyze", "posterior", str(a), str(b), *common]) == 0
    assert (out / "posterior_comparison.png").is_file() and (out / f"latent_factor_grid_1_{b.name}.png").is_file()
