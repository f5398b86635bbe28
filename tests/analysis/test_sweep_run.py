"""Sweep execution: local pool and Dask LocalCluster, failure records, resumption."""

from __future__ import annotations

import json

import pytest

from vaetk.errors import ConfigError, PluginNotFoundError
from vaetk.sweeps import load_outcomes, run_sweep
from vaetk.testing.sweep_trials import line_fit

TRIAL = "vaetk.testing.sweep_trials:line_fit"


def test_local_sweep_records_failures_goes_on_and_resumes(tmp_path):
    exp = {"fail_seed": 1, "exit_seed": 2, "noise": 0.0}
    res = run_sweep(exp, tmp_path, seeds=3, overrides={"slope": [1.0, 2.0]}, trial=TRIAL, workers=2,
                    progress=False)
    by_id = {o.trial_id: o for o in res.outcomes}
    assert [o.trial_id for o in res.outcomes] == [f"slope-{s}__seed-{k}" for s in (1, 2) for k in range(3)]
    ok = by_id["slope-2__seed-0"]
    assert ok.ok and ok.exit_status == 0 and ok.result["slope"] == pytest.approx(2.0, abs=1e-12)
    raised = by_id["slope-1__seed-1"]
    assert raised.status == "failed" and raised.exit_status == 1
    assert "asked to fail" in raised.error and "Traceback" in raised.traceback
    crashed = by_id["slope-1__seed-2"]
    assert crashed.status == "failed" and crashed.exit_status == 3 and "exit status 3" in crashed.error
    # every trial has a run directory holding only what the trial wrote, and a record of the sweep's own
    run, record = tmp_path / "trials" / "slope-2__seed-0", tmp_path / "records" / "slope-2__seed-0"
    assert sorted(p.name for p in run.iterdir()) == ["fit.json"]
    assert json.loads((run / "fit.json").read_text())["slope"] == ok.result["slope"]
    assert json.loads((record / "trial_config.json").read_text())["training"]["seed"] == 0
    assert json.loads((record / "trial.json").read_text())["status"] == "ok"

    again = run_sweep(exp, tmp_path, seeds=3, overrides={"slope": [1.0, 2.0]}, trial=TRIAL, progress=False)
    assert [o.skipped for o in again.outcomes] == [o.ok for o in res.outcomes]
    assert [o.result for o in again.outcomes if o.ok] == [o.result for o in res.outcomes if o.ok]
    assert len(load_outcomes(tmp_path)) == 6


def test_results_do_not_depend_on_worker_count(tmp_path):
    one = run_sweep({}, tmp_path / "a", seeds=3, trial=TRIAL, workers=1, progress=False)
    three = run_sweep({}, tmp_path / "b", seeds=3, trial=TRIAL, workers=3, threads_per_trial=2, progress=False)
    assert [o.result for o in one.outcomes] == [o.result for o in three.outcomes]


def test_dask_local_cluster_three_trials_one_failing(tmp_path):
    res = run_sweep({"fail_seed": 1}, tmp_path, seeds=3, trial=line_fit, executor="dask", workers=2,
                    progress=False)
    assert [o.status for o in res.outcomes] == ["ok", "failed", "ok"]
    assert res.outcomes[1].exit_status == 1 and "asked to fail" in res.outcomes[1].error
    assert {o.trial_id for o in load_outcomes(tmp_path)} == {f"base__seed-{k}" for k in range(3)}
    # the same trials run locally give the same numbers
    local = run_sweep({"fail_seed": 1}, tmp_path / "local", seeds=3, trial=TRIAL, progress=False)
    assert [o.result for o in local.outcomes] == [o.result for o in res.outcomes]


def test_relative_sweep_directory_with_a_worker_in_another_directory(tmp_path, monkeypatch, worker_elsewhere):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    res = run_sweep({"data": {"path": "data.zarr"}}, "rel_sweep", seeds=2, trial=TRIAL, scheduler=worker_elsewhere,
                    progress=False)
    assert [o.status for o in res.outcomes] == ["ok", "ok"]
    sweep = tmp_path / "here" / "rel_sweep"
    assert {o.trial_id for o in load_outcomes(sweep)} == {"base__seed-0", "base__seed-1"}
    assert not (tmp_path / "elsewhere" / "rel_sweep").exists()
    # the data path each trial is given is the one the client meant
    shipped = json.loads((sweep / "records" / "base__seed-0" / "trial_config.json").read_text())
    assert shipped["data"]["path"] == str(tmp_path / "here" / "data.zarr")


def test_a_different_sweep_in_the_same_directory_is_refused(tmp_path):
    run_sweep({"noise": 0.1}, tmp_path, seeds=1, trial=TRIAL, progress=False)
    with pytest.raises(ConfigError, match="already holds a different sweep"):
        run_sweep({"noise": 0.2}, tmp_path, seeds=1, trial=TRIAL, progress=False)


def test_a_grid_axis_may_gain_values_and_finished_trials_are_kept(tmp_path):
    first = run_sweep({"noise": 0.1}, tmp_path, seeds=1, overrides={"scale": [1.0, 2.0]}, trial=TRIAL, progress=False)
    more = run_sweep({"noise": 0.1}, tmp_path, seeds=1, overrides={"scale": [1.0, 4.0, 2.0]}, trial=TRIAL,
                     progress=False)
    assert [o.skipped for o in more.outcomes] == [True, False, True]
    assert {o.trial_id: o.result for o in first.outcomes}.items() <= {o.trial_id: o.result
                                                                      for o in more.outcomes}.items()
    manifest = json.loads((tmp_path / "sweep.json").read_text())
    assert manifest["overrides"] == {"scale": [1.0, 2.0, 4.0]}
    with pytest.raises(ConfigError, match="already holds a different sweep"):  # a fixed value may not change
        run_sweep({"noise": 0.1}, tmp_path, seeds=1, overrides={"scale": [1.0], "other": 3}, trial=TRIAL,
                  progress=False)


def test_bad_trial_references_are_reported_up_front(tmp_path):
    with pytest.raises(ConfigError, match="cannot import module"):
        run_sweep({}, tmp_path, seeds=1, trial="no_such_module_x:f", progress=False)
    with pytest.raises(ConfigError, match="has no attribute"):
        run_sweep({}, tmp_path, seeds=1, trial="vaetk.testing.sweep_trials:nope", progress=False)

    def local_fn(config, run_dir):
        return {}

    with pytest.raises(ConfigError, match="must be importable"):
        run_sweep({}, tmp_path, seeds=1, trial=local_fn, progress=False)
    with pytest.raises(ConfigError, match="expected 'local' or 'dask'"):
        run_sweep({}, tmp_path, seeds=1, trial=TRIAL, executor="ray", progress=False)


def test_cli_sweep_grid_and_exit_status(tmp_path, capsys):
    from vaetk.cli.__main__ import main

    exp = tmp_path / "exp.toml"
    exp.write_text("fail_seed = 1\nnoise = 0.0\n")
    out = tmp_path / "sweep"
    argv = ["sweep", str(exp), "--seeds", "2", "--set", "slope=[1.0, 3.0]", "--trial", TRIAL, "--out", str(out),
            "--no-progress"]
    assert main(argv) == 1  # a failed trial makes the command fail, after all trials ran
    text = capsys.readouterr().out
    assert "2 of 4 trials ok" in text and "slope-3__seed-1: exit status 1" in text
    assert main(["sweep", str(tmp_path / "missing.toml"), "--seeds", "1"]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["sweep", "mixture_plian", "--seeds", "1"]) == 1  # a preset name, misspelt
    assert "Did you mean 'mixture_plain'" in capsys.readouterr().err


def test_a_misspelt_prior_fails_before_any_trial_is_made(tmp_path, capsys):
    from vaetk.cli.__main__ import main

    # The default trial's experiment is parsed (first grid point, first seed) before anything is written.
    exp = {"data": {"path": str(tmp_path / "no_data.zarr")}, "model": {"prior": {"name": "standard_normal"}}}
    sweep = tmp_path / "sweep"
    with pytest.raises(PluginNotFoundError, match=r"trial base__seed-0: model\.prior\.name: Unknown prior "
                                                  r"'standard_norml'\. Did you mean 'standard_normal'"):
        run_sweep(exp, sweep, seeds=3, overrides={"model.prior.name": "standard_norml"}, progress=False)
    with pytest.raises(ConfigError, match=r"trial lr-0.001__seed-0: training\.lrr: unknown key"):
        run_sweep(exp, sweep, seeds=3, overrides={"training.lrr": 0.5, "training.lr": [1e-3]}, progress=False)
    assert not sweep.exists()

    path = tmp_path / "exp.toml"
    path.write_text(f'[data]\npath = "{tmp_path / "no_data.zarr"}"\n')
    assert main(["sweep", str(path), "--seeds", "2", "--set", "model.prior.name=gausian", "--out", str(sweep),
                 "--no-progress"]) == 1
    assert "Did you mean 'gaussian'" in capsys.readouterr().err
    assert not sweep.exists()


def test_trials_do_not_outlive_a_killed_sweep(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "from vaetk.sweeps import run_sweep\n"
        f"run_sweep({{'sleep': 30}}, {str(tmp_path)!r}, seeds=1, trial='vaetk.testing.sweep_trials:line_fit',"
        " progress=False)\n"
    )
    driver = subprocess.Popen([sys.executable, "-c", script])
    log = tmp_path / "records" / "base__seed-0" / "trial.log"
    deadline = time.monotonic() + 30
    pid = None
    while pid is None and time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-f", f"record-dir {tmp_path}"], capture_output=True, text=True).stdout
        pid = int(out.split()[0]) if out.strip() else None
        time.sleep(0.2)
    assert pid is not None and log.parent.is_dir()
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("the trial process outlived the killed sweep")


def test_cli_sweep_execution_options_on_a_local_cluster(tmp_path, capsys):
    from vaetk.cli.__main__ import main

    exp = tmp_path / "exp.toml"
    exp.write_text("noise = 0.1\n")
    common = ["sweep", str(exp), "--seeds", "2", "--trial", TRIAL, "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "dask"), "--workers", "2", "--threads", "2", "--scheduler",
                 "local"]) == 0
    assert main([*common, "--out", str(tmp_path / "pool"), "--workers", "2", "--threads", "1"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    dask, pool = load_outcomes(tmp_path / "dask"), load_outcomes(tmp_path / "pool")
    assert [o.status for o in dask] == ["ok", "ok"] and [o.result for o in dask] == [o.result for o in pool]


@pytest.fixture
def run_sweep_calls(monkeypatch, tmp_path):
    """The keyword arguments `vaetk sweep` passes to run_sweep (which records nothing and runs nothing)."""
    import vaetk.sweeps

    calls = []

    def fake(experiment, out, **kwargs):
        calls.append(kwargs)
        return vaetk.sweeps.SweepResult(out, [])

    monkeypatch.setattr(vaetk.sweeps, "run_sweep", fake)
    (tmp_path / "exp.toml").write_text("noise = 0.1\n")
    return calls


@pytest.mark.parametrize(("options", "expected", "warnings"), [
    ([], {"executor": "local", "scheduler": None, "workers": 1, "threads_per_trial": 1}, []),
    (["--workers", "3", "--threads", "2", "--scheduler", "local"],
     {"executor": "local", "scheduler": "local", "workers": 3, "threads_per_trial": 2}, []),
    (["--scheduler", "tcp://10.0.0.5:8786"], {"scheduler": "tcp://10.0.0.5:8786"}, []),
    (["--threads-per-trial", "4"], {"threads_per_trial": 4}, ["--threads-per-trial is deprecated; use --threads"]),
    (["--executor", "dask", "--workers", "2"], {"executor": "dask", "scheduler": None, "workers": 2},
     ["--executor is deprecated; use --scheduler local"]),
    (["--scheduler", "dask"], {"scheduler": "local"}, ["--scheduler dask is deprecated; use --scheduler local"]),
])
def test_cli_sweep_options_new_and_deprecated(run_sweep_calls, tmp_path, capsys, options, expected, warnings):
    from vaetk.cli.__main__ import main

    assert main(["sweep", str(tmp_path / "exp.toml"), "--seeds", "1", "--out", str(tmp_path / "s"), *options]) == 0
    (kwargs,) = run_sweep_calls
    assert {key: kwargs[key] for key in expected} == expected
    err = capsys.readouterr().err
    assert [w for w in warnings if w in err] == warnings and err.count("deprecated") == len(warnings)


def test_run_sweep_rejects_an_unknown_scheduler_before_writing_anything(tmp_path):
    for scheduler in ("dask", "127.0.0.1", 8786):
        with pytest.raises(ConfigError, match="Unknown scheduler"):
            run_sweep({}, tmp_path / "bad", seeds=1, trial=TRIAL, scheduler=scheduler, progress=False)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(("options", "expected", "warnings"), [
    (["--workers", "3", "--threads", "2", "--scheduler", "local"],
     {"workers": 3, "threads_per_trial": 2, "scheduler": "local"}, []),
    (["--threads-per-trial", "2"], {"workers": 1, "threads_per_trial": 2, "scheduler": None},
     ["--threads-per-trial is deprecated; use --threads"]),
])
def test_cli_reproduce_options_new_and_deprecated(monkeypatch, tmp_path, capsys, options, expected, warnings):
    import vaetk.sweeps._reproduce as reproduce_module
    from vaetk.cli.__main__ import main

    calls = []
    report = tmp_path / "REPORT.md"
    report.write_text("report\n")
    monkeypatch.setattr(reproduce_module, "reproduce", lambda section, **kwargs: calls.append(kwargs) or report)
    assert main(["reproduce", "5.1", "--out", str(tmp_path), *options]) == 0
    (kwargs,) = calls
    assert {key: kwargs[key] for key in expected} == expected
    err = capsys.readouterr().err
    assert [w for w in warnings if w in err] == warnings and err.count("deprecated") == len(warnings)
