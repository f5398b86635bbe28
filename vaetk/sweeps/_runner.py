"""Run a sweep's trials in a local process pool or on a Dask distributed cluster.

Layout of a sweep directory::

    SWEEP_DIR/sweep.json               what was swept (base experiment, overrides, seeds, trial function)
    SWEEP_DIR/trials/<trial_id>/       one normal run directory per trial (the trial function's run_dir,
                                       nothing else is written there)
    SWEEP_DIR/records/<trial_id>/      the sweep's bookkeeping of that trial:
        trial_config.json              the trial's complete experiment
        trial.json                     its outcome: status "ok" with results, or "failed" with the exit
                                       status and traceback; written last, so a trial without it is unfinished
        trial.log                      the trial's stdout and stderr

Each trial runs in a fresh Python process (see :mod:`vaetk.sweeps._worker`) with ``threads_per_trial`` threads, so
results do not depend on how many trials run at once, and a crashing trial cannot take others down. Trials run
through :func:`vaetk._executors.run_tasks`: without a scheduler a local pool keeps ``workers`` such processes
running; with one (``"local"``, a LocalCluster on loopback, or a scheduler address) every trial is one Dask task,
which launches the same process on its worker (the sweep directory must be on a filesystem the workers share).
Re-running a sweep skips the trials whose ``trial.json`` says "ok" and retries the others in their existing run
directories (vaetk's training trial resumes from the last checkpoint there).

With ``ensemble`` K > 1 the pending trials of a setting run in groups of at most K, each group in one process as
one batched ensemble (:func:`vaetk.sweeps.trials.train_and_evaluate_ensemble`); each trial still has its own run
directory, record and ``trial.json``, so summaries and re-runs see ordinary trials.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaetk._atomic import atomic_write_json
from vaetk._validation import is_int
from vaetk.errors import ConfigError
from vaetk.sweeps._grid import Trial, expand_trials
from vaetk.sweeps._worker import CONFIG_FILE, ERROR_FILE, RESULT_FILE, resolve_trial

__all__ = ["DEFAULT_TRIAL", "SweepResult", "TrialOutcome", "load_outcomes", "run_sweep"]

DEFAULT_TRIAL = "vaetk.sweeps.trials:train_and_evaluate"
MANIFEST = "sweep.json"
OUTCOME_FILE = "trial.json"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VAETK_TORCH_THREADS")


@dataclass(frozen=True)
class TrialOutcome:
    """What happened to one trial (the content of its ``trial.json``)."""

    trial_id: str
    setting: dict[str, Any]
    seed: int
    status: str  # "ok" or "failed"
    result: dict[str, Any] = field(default_factory=dict)
    exit_status: int | None = None
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    host: str = ""
    skipped: bool = False  # finished in an earlier invocation

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "skipped"}
        return data


@dataclass(frozen=True)
class SweepResult:
    """The outcome of every trial of a sweep, in trial order."""

    sweep_dir: Path
    outcomes: list[TrialOutcome]

    @property
    def failed(self) -> list[TrialOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def n_ok(self) -> int:
        return sum(o.ok for o in self.outcomes)


def trial_ref(trial: str | Callable[..., Any]) -> str:
    """A trial function as an importable ``"module:qualname"`` (what worker processes import)."""
    if isinstance(trial, str):
        resolve_trial(trial)  # fail now, with a clear message, rather than in every worker
        return trial
    module, qualname = getattr(trial, "__module__", None), getattr(trial, "__qualname__", "")
    if not module or module == "__main__" or "<locals>" in qualname:
        raise ConfigError(
            f"trial {trial!r}: a sweep runs trials in worker processes, so the function must be importable "
            "(defined at the top level of an installed module), or given as 'package.module:function'."
        )
    ref = f"{module}:{qualname}"
    if resolve_trial(ref) is not trial:
        raise ConfigError(f"trial {trial!r}: importing {ref!r} gives a different object; pass the reference.")
    return ref


def _parse_first_trial(trials: Sequence[Trial]) -> None:
    """Parse the first trial's experiment as the default trial will, so a bad key or name fails once, now.

    Run before any directory or process is made: a misspelt plugin name or key in the base experiment or in the
    fixed overrides would otherwise fail in every trial, one process start at a time. Only the first grid point
    (at the first seed) is parsed: a grid may hold settings meant to fail, whose trials are recorded as failed.

    Raises
    ------
    ConfigError, PluginError
        As :func:`vaetk.training.parse_experiment`, the message naming the trial.
    """
    from vaetk.training import parse_experiment

    if trials:
        parse_experiment(trials[0].config, source=f"trial {trials[0].trial_id}")


def _read_outcome(run_dir: Path) -> TrialOutcome | None:
    path = run_dir / OUTCOME_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return TrialOutcome(**data)


def execute_group(ref: str, run_dirs: Sequence[str], record_dirs: Sequence[str], trial_ids: Sequence[str],
                  settings: Sequence[dict[str, Any]], seeds: Sequence[int], threads: int) -> list[dict[str, Any]]:
    """Run prepared trials in one fresh interpreter (several: as one ensemble, ``--ensemble``) and return their
    outcome records, one per trial (also run on Dask workers). Every trial's ``trial.log`` is the process's log."""
    records = [Path(r) for r in record_dirs]
    for run in records:
        for stale in (RESULT_FILE, ERROR_FILE):
            (run / stale).unlink(missing_ok=True)
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARS})
    # `-c` rather than `-m vaetk.sweeps._worker`: the package imports the worker module, so runpy would warn that
    # it is already loaded before running it as __main__.
    command = [sys.executable, "-c", "import sys; from vaetk.sweeps._worker import main; sys.exit(main())",
               "--trial", ref, "--parent", str(os.getpid())]
    if len(records) > 1:
        command.append("--ensemble")
    for run in records:
        command += ["--record-dir", str(run)]
    log_path = records[0] / "trial.log"
    start = time.perf_counter()
    with open(log_path, "w") as log:
        if len(records) > 1:
            log.write(f"ensemble of {len(records)} trials in one process: {', '.join(trial_ids)}\n")
            log.flush()
        proc = subprocess.run([*command, *run_dirs], stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.perf_counter() - start
    for run in records[1:]:
        shutil.copyfile(log_path, run / "trial.log")
    out = []
    for run, trial_id, setting, seed in zip(records, trial_ids, settings, seeds, strict=True):
        record: dict[str, Any] = {
            "trial_id": trial_id, "setting": setting, "seed": seed, "seconds": round(seconds, 3),
            "host": socket.gethostname(), "exit_status": proc.returncode,
        }
        result_path, error_path = run / RESULT_FILE, run / ERROR_FILE
        if result_path.is_file() and (proc.returncode == 0 or len(records) > 1):
            record.update(status="ok", result=json.loads(result_path.read_text()), exit_status=0)
        elif error_path.is_file():
            err = json.loads(error_path.read_text())
            record.update(status="failed", error=f"{err['type']}: {err['message']}", traceback=err["traceback"])
            if len(records) > 1 and proc.returncode >= 0:
                record["exit_status"] = 1
        else:  # killed, or exited without a Python exception
            tail = log_path.read_text()[-4000:]
            how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            record.update(status="failed", error=f"the trial process ended abnormally ({how})", traceback=tail)
        out.append(record)
    return out


def _manifest(experiment: Mapping[str, Any], overrides: Mapping[str, Any], ref: str, seed_key: str | list[str],
              trials: Sequence[Trial]) -> dict[str, Any]:
    from importlib import metadata

    try:
        version = metadata.version("vaetk")
    except metadata.PackageNotFoundError:  # pragma: no cover
        version = "unknown"
    return {
        "experiment": dict(experiment), "overrides": dict(overrides), "trial": ref, "seed_key": seed_key,
        "trials": [{"trial_id": t.trial_id, "setting": t.setting, "seed": t.seed} for t in trials],
        "vaetk_version": version, "python": sys.version.split()[0],
    }


def _check_same_sweep(path: Path, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Trials recorded earlier in ``path``; refuse to mix two different sweeps in one directory."""
    if not path.is_file():
        return []
    old = json.loads(path.read_text())
    keys = ["experiment", "overrides", "trial", "seed_key"]
    if _grid_extended(old.get("overrides"), new["overrides"]):
        # Trial ids name their grid values, so a grid axis may gain (or drop) values without mixing trials; the
        # manifest keeps every value that has trials.
        new["overrides"] = {k: _union(old["overrides"][k], v) if isinstance(v, list) else v
                            for k, v in new["overrides"].items()}
        keys.remove("overrides")
    for key in keys:
        if old.get(key) != new[key]:
            raise ConfigError(
                f"{path.parent} already holds a different sweep ({key} differs: {old.get(key)!r} there, "
                f"{new[key]!r} now). Use a new sweep directory, or the same experiment and --set options."
            )
    return list(old.get("trials", []))


def _grid_extended(old: Any, new: Mapping[str, Any]) -> bool:
    """True when ``new`` has the same keys and fixed values as ``old`` and differs only in grid-axis values."""
    if not isinstance(old, dict) or old.keys() != new.keys() or old == new:
        return False
    return all(isinstance(v, list) and isinstance(old[k], list) or v == old[k] for k, v in new.items())


def _union(old: list[Any], new: list[Any]) -> list[Any]:
    return list(old) + [v for v in new if v not in old]


def _run_group(args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """:func:`execute_group` on one task's arguments (the task function of :func:`vaetk._executors.run_tasks`)."""
    return execute_group(*args)


#: The seed keys an ensemble's members may differ in (see :mod:`vaetk.training._ensemble`).
ENSEMBLE_SEED_KEYS = ("training.seed", "semi_supervised.label_seed")


def ensemble_groups(trials: Sequence[Trial], size: int) -> list[list[Trial]]:
    """``trials`` in groups of at most ``size`` that share a setting (so differ only in their seeds), in order."""
    by_setting: dict[str, list[Trial]] = {}
    for t in trials:
        by_setting.setdefault(json.dumps(t.setting, sort_keys=True, default=str), []).append(t)
    return [group[i:i + size] for group in by_setting.values() for i in range(0, len(group), size)]


def run_sweep(
    experiment: Mapping[str, Any],
    sweep_dir: str | os.PathLike[str],
    *,
    seeds: Sequence[int] | int,
    overrides: Mapping[str, Any] | None = None,
    trial: str | Callable[..., Any] = DEFAULT_TRIAL,
    executor: str = "local",
    scheduler: Any = None,
    workers: int = 1,
    threads_per_trial: int = 1,
    seed_key: str | Sequence[str] = "training.seed",
    progress: bool = True,
    ensemble: int = 1,
) -> SweepResult:
    """Run (or resume) a sweep: every grid point of ``overrides`` times every seed.

    Parameters
    ----------
    experiment : mapping
        The base experiment (nested dicts, as read from the TOML file).
    sweep_dir : path
        Where the sweep's trials go; created if needed. Re-running into it skips finished trials.
    seeds : int or sequence of int
        An int N means seeds ``0 .. N-1``.
    overrides : mapping, optional
        Dotted key -> value; list values are grid axes (see :func:`vaetk.sweeps.expand_trials`).
    trial : str or callable
        ``func(config: dict, run_dir: Path) -> mapping of scalars``, importable by the workers. The default
        trains the experiment with vaetk's trainer and evaluates its metrics.
    executor : {"local", "dask"}
        The older way to ask for Dask, kept working: "dask" without a ``scheduler`` is ``scheduler="local"``;
        "local" leaves the choice to ``scheduler``.
    scheduler : None, "local", str or distributed.Client, optional
        Where trials run (see :mod:`vaetk._executors`): None, a local pool of ``workers`` trial processes;
        "local", a Dask LocalCluster of ``workers`` workers on loopback, started for the sweep; an address
        ("tcp://host:8786"), the Dask scheduler there; or a Client.
    workers : int
        Trials running at once (local pool or LocalCluster).
    threads_per_trial : int
        Threads each trial may use (OMP/MKL/torch); results do not depend on it through the sweep runner.
    seed_key : str or sequence of str
        Dotted key(s) of the experiment set to each trial's seed.
    progress : bool
        Show a tqdm bar.
    ensemble : int
        Run up to this many pending trials of a setting (differing only in their seeds) in one process, as one
        batched ensemble (see :mod:`vaetk.training._ensemble`; the trial function needs an ``ensemble`` form, as
        the default has). Each trial keeps its own run directory and record; 1 runs every trial alone.

    Returns
    -------
    SweepResult
        One outcome per trial; failed trials are recorded and the sweep goes on.

    Raises
    ------
    ConfigError, PluginError
        Bad arguments, a trial function that cannot be imported, or (default trial) a first trial whose
        experiment does not parse: unknown keys or component names fail here, before anything is written.
    """
    from vaetk._executors import LOCAL_CLUSTER, check_scheduler

    if executor not in ("local", "dask"):
        raise ConfigError(f"executor {executor!r}: expected 'local' or 'dask'.")
    if executor == "dask" and scheduler is None:
        scheduler = LOCAL_CLUSTER
    check_scheduler(scheduler)
    if not is_int(workers, 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}.")
    if not is_int(threads_per_trial, 1):
        raise ConfigError(f"threads_per_trial must be a positive integer, got {threads_per_trial!r}.")
    if is_int(seeds):
        if seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {seeds}.")
        seeds = list(range(seeds))
    if not is_int(ensemble, 1):
        raise ConfigError(f"ensemble must be a positive integer, got {ensemble!r}.")
    overrides = dict(overrides or {})
    ref = trial_ref(trial)
    if ensemble > 1:
        from vaetk.sweeps._worker import ensemble_function

        ensemble_function(ref)
        keys = [seed_key] if isinstance(seed_key, str) else list(seed_key)
        if not set(keys) <= set(ENSEMBLE_SEED_KEYS):
            raise ConfigError(f"--ensemble: the members of an ensemble may differ only in "
                              f"{' and '.join(ENSEMBLE_SEED_KEYS)}; the seed keys are {keys}.")
    trials = expand_trials(experiment, seeds=seeds, overrides=overrides, seed_key=seed_key)
    if ref == DEFAULT_TRIAL:
        _parse_first_trial(trials)

    root = Path(os.path.abspath(sweep_dir))  # absolute before any trial is shipped: workers may run elsewhere
    for sub in ("trials", "records"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    seed_key = seed_key if isinstance(seed_key, str) else list(seed_key)
    manifest = _manifest(experiment, overrides, ref, seed_key, trials)
    previous = _check_same_sweep(root / MANIFEST, manifest)
    known = {t["trial_id"] for t in manifest["trials"]}
    manifest["trials"] += [t for t in previous if t["trial_id"] not in known]  # a re-run may use fewer seeds
    atomic_write_json(root / MANIFEST, manifest)

    outcomes: dict[str, TrialOutcome] = {}
    todo: list[Trial] = []
    for t in trials:
        record = root / "records" / t.trial_id
        done = _read_outcome(record)
        if done is not None and done.ok:
            outcomes[t.trial_id] = TrialOutcome(**{**done.to_json(), "skipped": True})
            continue
        record.mkdir(parents=True, exist_ok=True)
        (root / "trials" / t.trial_id).mkdir(exist_ok=True)
        (record / OUTCOME_FILE).unlink(missing_ok=True)
        atomic_write_json(record / CONFIG_FILE, _absolute_data_paths(t.config))
        todo.append(t)

    with contextlib.closing(_run_trials(root, ref, todo, scheduler, workers, threads_per_trial, progress,
                                        ensemble)) as done:
        for record in done:  # leaving early (an interrupt) cancels the trials not started, then closes the pool
            outcome = TrialOutcome(**record)
            atomic_write_json(root / "records" / outcome.trial_id / OUTCOME_FILE, outcome.to_json())
            outcomes[outcome.trial_id] = outcome
    return SweepResult(root, [outcomes[t.trial_id] for t in trials])


def _absolute_data_paths(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """``config`` with a relative ``data.path`` / ``data.test_path`` made absolute (against the working directory
    here), so that a trial on a worker in another directory reads the same data."""
    data = config.get("data")
    if not isinstance(data, Mapping):
        return config
    paths = {key: os.path.abspath(data[key]) for key in ("path", "test_path")
             if isinstance(data.get(key), str) and data[key]}
    return {**config, "data": {**data, **paths}} if paths else config


def _run_trials(root: Path, ref: str, todo: Sequence[Trial], scheduler: Any, workers: int, threads: int,
                progress: bool, ensemble: int = 1) -> Iterator[dict[str, Any]]:
    """Run the prepared trials ``todo`` and yield their outcome records as they finish.

    A local pool runs them on threads: each task only starts its trials' process and waits for it. A task that
    fails itself (a lost Dask worker, not a failing trial) is recorded as failed for its trials, and the others go
    on. With ``ensemble`` > 1, a task is a group of trials of one setting (see :func:`ensemble_groups`).
    """
    from tqdm.auto import tqdm

    from vaetk._executors import run_tasks

    if not todo:
        return
    groups = ensemble_groups(todo, ensemble) if ensemble > 1 else [[t] for t in todo]
    tasks = [(ref, [str(root / "trials" / t.trial_id) for t in g], [str(root / "records" / t.trial_id) for t in g],
              [t.trial_id for t in g], [t.setting for t in g], [t.seed for t in g], threads) for g in groups]
    keys = [f"vaetk-trial-{g[0].trial_id}{f'-x{len(g)}' if len(g) > 1 else ''}-{time.time_ns()}" for g in groups]
    with tqdm(total=len(todo), desc="trials", unit="trial", disable=not progress) as bar:
        for task, records in run_tasks(_run_group, tasks, scheduler=scheduler, workers=workers, pool="threads",
                                       keys=keys, return_exceptions=True):
            if isinstance(records, Exception):  # the task itself failed (worker lost): record it, go on
                records = [{"trial_id": trial_id, "setting": setting, "seed": seed, "status": "failed",
                            "error": f"the executor lost the trial: {type(records).__name__}: {records}"}
                           for trial_id, setting, seed in zip(*task[3:6], strict=True)]
            for record in records:
                bar.update(1)
                if record["status"] != "ok" and progress:
                    bar.write(f"trial {record['trial_id']} failed: {record.get('error', '')}")
                yield record


def load_outcomes(sweep_dir: str | os.PathLike[str]) -> list[TrialOutcome]:
    """The recorded outcome of every trial of a sweep (unfinished trials are left out), in manifest order.

    Raises
    ------
    DataError
        If ``sweep_dir`` has no ``sweep.json``.
    """
    from vaetk.errors import DataError

    root = Path(sweep_dir)
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"{root} is not a sweep directory: {MANIFEST} is missing (create it with `vaetk sweep`).")
    manifest = json.loads(path.read_text())
    outcomes = []
    for t in manifest.get("trials", []):
        outcome = _read_outcome(root / "records" / t["trial_id"])
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes
