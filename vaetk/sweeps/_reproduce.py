"""``vaetk reproduce SECTION``: the paper's sweeps (sections 5.1, 5.2, 5.3, 6) at a CPU or paper scale.

A section is described by ``vaetk/configs/reproduce/section_<n>.toml``::

    section, title, paper      what is reproduced and the paper's numbers (shown next to ours in the report)
    seed_keys                  experiment keys set to each trial's seed (default ["training.seed"])
    plot_key, plot_divisor     optional: the swept key of the S_D figure and its divisor
    [[study]]                  name, experiment (a training preset), dataset (a dataset preset), grid (optional)
    [scale.<name>]             seeds; dataset (overrides of the dataset preset, e.g. { n = 33 });
                               overrides (dotted experiment keys fixed for every trial); grid (replaces studies');
                               extends (optional: another scale whose settings and datasets this one shares,
                               its own overrides applied on top, e.g. a different beta schedule)

For each study the dataset is generated once (seed 2022, recorded in the store; an existing complete store is
reused), then the study is run as a sweep in ``OUT/section_<n>/<study>`` (resumable like any sweep) and
summarised; ``OUT/section_<n>/REPORT.md`` puts every study's table under the paper's numbers.

``smoke=True`` (``--smoke``) runs a scale end to end in minutes on a CPU, with the same models, priors, schedules and
solver but :data:`SMOKE` applied on top: one seed, a few epochs, a small split. It proves that the path works (the
paper scale before a GPU ever sees it); its numbers mean nothing, so it writes to its own folders
(``<scale>_smoke``) and its own datasets, never mixing with a real run's.
"""

from __future__ import annotations

import copy
import json
import os
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaetk.config import preset_table
from vaetk.errors import ConfigError
from vaetk.sweeps._grid import apply_overrides
from vaetk.sweeps._runner import run_sweep
from vaetk.sweeps._summary import DEFAULT_THRESHOLD, format_table, summarize_sweep

__all__ = ["DATASET_SEED", "SECTIONS", "SMOKE", "load_section", "reproduce"]

_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SECTIONS = ("5.1", "5.2", "5.3", "6")
DATASET_SEED = 2022
# What --smoke changes: every trial trains 2 epochs (1 reconstruction-only where the schedule has that phase) on
# 128 samples, evaluates on 64, and checkpoints and evaluates every epoch, so every code path runs once.
SMOKE = {
    "seeds": 1,
    "dataset": {"split": {"train": 128, "test": 64}},
    "overrides": {"training.epochs": 2, "training.lr_milestones": [], "training.checkpoint_every": 1,
                  "training.eval_every": 1},
}


@dataclass(frozen=True)
class Study:
    name: str
    experiment: dict[str, Any]  # the preset with the scale's overrides applied (data.path not yet set)
    dataset: dict[str, Any]  # the dataset preset with the scale's overrides applied
    dataset_name: str
    grid: dict[str, list[Any]]


@dataclass(frozen=True)
class Section:
    section: str
    title: str
    paper: str
    scale: str
    data_scale: str  # the scale whose datasets this one uses (itself unless it extends another)
    seeds: int
    seed_keys: list[str]
    plot_key: str | None
    plot_divisor: float
    studies: list[Study]


def _toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what}: {path} does not exist.") from None


def _smoke(experiment: dict[str, Any]) -> dict[str, Any]:
    overrides = dict(SMOKE["overrides"])
    if experiment.get("schedule", {}).get("reconstruction_epochs"):
        overrides["schedule.reconstruction_epochs"] = 1
    return apply_overrides(experiment, overrides)


def load_section(section: str, scale: str, *, smoke: bool = False) -> Section:
    """Read and resolve the reproduction spec of ``section`` at ``scale`` (e.g. ``"cpu"`` or ``"paper"``), with
    :data:`SMOKE` applied when ``smoke``."""
    if section not in SECTIONS:
        import difflib

        close = difflib.get_close_matches(section, SECTIONS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"Unknown section {section!r}.{hint} Reproducible sections: {', '.join(SECTIONS)}.")
    spec = _toml(_CONFIGS / "reproduce" / f"section_{section.replace('.', '_')}.toml", f"section {section}")
    scales = spec.get("scale", {})
    if scale not in scales:
        raise ConfigError(f"section {section} has no scale {scale!r}; available: {', '.join(scales)}.")
    sc, data_scale = scales[scale], scale
    if "extends" in sc:
        base_name = sc["extends"]
        if base_name not in scales or "extends" in scales[base_name]:
            raise ConfigError(f"section {section}, scale {scale!r}: extends {base_name!r}, which is not a scale "
                              f"of this section without an 'extends' of its own ({', '.join(scales)}).")
        base = scales[base_name]
        sc = {**base, **{k: v for k, v in sc.items() if k not in ("extends", "overrides")},
              "overrides": {**base.get("overrides", {}), **sc.get("overrides", {})}}
        data_scale = base_name
    studies = []
    for table in spec["study"]:
        experiment = apply_overrides(preset_table("experiments", table["experiment"]), sc.get("overrides", {}))
        experiment = apply_overrides(experiment, table.get("overrides", {}))
        dataset = apply_overrides(preset_table("datasets", table["dataset"]), sc.get("dataset", {}))
        grid = dict(sc.get("grid", table.get("grid", {})))
        if smoke:
            experiment, dataset = _smoke(experiment), apply_overrides(dataset, SMOKE["dataset"])
        studies.append(Study(table["name"], experiment, dataset, table["dataset"], grid))
    if smoke:
        scale, data_scale = f"{scale}_smoke", f"{data_scale}_smoke"
    return Section(spec["section"], spec["title"], spec["paper"], scale, data_scale,
                   SMOKE["seeds"] if smoke else int(sc["seeds"]),
                   list(spec.get("seed_keys", ["training.seed"])), spec.get("plot_key"),
                   float(spec.get("plot_divisor", 1.0)), studies)


def _dataset_path(root: Path, study: Study, scale: str) -> Path:
    return root / "data" / f"{study.dataset_name}-{scale}.zarr"


def _ensure_dataset(path: Path, config: Mapping[str, Any], workers: int, progress: bool) -> None:
    from vaetk.darcy import generate

    # An existing store is resumed, which checks that it was made from the same configuration and seed.
    if (path / "zarr.json").is_file():
        generate(copy.deepcopy(dict(config)), path, seed=DATASET_SEED, resume=True, n_workers=workers,
                 progress=progress)
    else:
        generate(copy.deepcopy(dict(config)), path, seed=DATASET_SEED, n_workers=workers, progress=progress)


def reproduce(section: str, *, scale: str = "cpu", out: str | os.PathLike[str] = "runs/reproduce",
              seeds: int | None = None, studies: Sequence[str] | None = None, workers: int = 1,
              threads_per_trial: int = 1, scheduler: str | None = None, threshold: float = DEFAULT_THRESHOLD,
              progress: bool = True, smoke: bool = False, ensemble: int = 1) -> Path:
    """Run (or resume) the sweeps of one paper section and write its report; return the report's path.

    Parameters
    ----------
    section : {"5.1", "5.2", "5.3", "6"}
    scale : {"cpu", "paper"}
        ``cpu``: a coarser grid, a small architecture, short schedules and few trials (see the section files);
        ``paper``: the paper-sized presets, for a GPU.
    seeds : int, optional
        Trials per setting (default: the scale's).
    studies : sequence of str, optional
        Run only these studies (default: all); the report covers the studies run by this call.
    workers, threads_per_trial, scheduler
        As for :func:`vaetk.sweeps.run_sweep` (``workers`` also generates the datasets).
    smoke : bool
        Apply :data:`SMOKE` (a minutes-long check that the scale's path works; folders ``<scale>_smoke``).
    ensemble : int
        Train up to this many seeds of a setting at once as one batched model (``vaetk sweep --ensemble``; for a
        GPU, where the paper-scale trials are many small models).
    """
    spec = load_section(section, scale, smoke=smoke)
    scale = spec.scale
    selected = spec.studies
    if studies:
        names = [st.name for st in spec.studies]
        unknown = [name for name in studies if name not in names]
        if unknown:
            raise ConfigError(f"section {section} has no study {', '.join(map(repr, unknown))}; its studies are "
                              f"{', '.join(names)}.")
        selected = [st for st in spec.studies if st.name in studies]
    root = Path(out)
    sec_dir = root / f"section_{section.replace('.', '_')}"
    if scale != "cpu":  # the cpu scale keeps its historical layout; other scales get their own folders
        sec_dir = sec_dir / scale
    sec_dir.mkdir(parents=True, exist_ok=True)
    n_seeds = spec.seeds if seeds is None else seeds
    lines = [f"# Section {spec.section}: {spec.title}", "", f"Scale: `{scale}`; {n_seeds} trial(s) per setting; "
             f"disentangled means S_D >= {threshold:g} (see `vaetk summarize`).", "",
             f"**Paper:** {spec.paper}", ""]
    timings = {}
    for study in spec.studies:  # run the selected studies; report every study that has a sweep directory
        if study in selected:
            data = _dataset_path(root, study, spec.data_scale)
            _ensure_dataset(data, study.dataset, workers, progress)
            experiment = apply_overrides(study.experiment, {"data.path": str(data.resolve())})
            start = time.perf_counter()
            result = run_sweep(experiment, sec_dir / study.name, seeds=n_seeds, overrides=study.grid,
                               workers=workers, threads_per_trial=threads_per_trial, scheduler=scheduler,
                               seed_key=spec.seed_keys, progress=progress, ensemble=ensemble)
            timings[study.name] = time.perf_counter() - start
            status = (f"{result.n_ok} of {len(result.outcomes)} trials ok; wall time of this invocation "
                      f"{timings[study.name]:.0f} s.")
        elif (sec_dir / study.name).is_dir():
            status = "Not run by this invocation (results of an earlier one)."
        else:
            continue
        plot_key = spec.plot_key if spec.plot_key in study.grid else None
        summaries = summarize_sweep(sec_dir / study.name, threshold=threshold, plot_key=plot_key,
                                    divisor=spec.plot_divisor)
        lines += [f"## Study `{study.name}` ({study.experiment.get('name', '')})", "",
                  f"{status} Sweep directory: `{sec_dir / study.name}`.", "",
                  format_table(summaries, threshold=threshold)]
    (sec_dir / "REPORT.md").write_text("\n".join(lines) + "\n")
    (sec_dir / "reproduce.json").write_text(json.dumps({"section": section, "scale": scale, "seeds": n_seeds,
                                                        "threshold": threshold, "seconds": timings}, indent=2))
    return sec_dir / "REPORT.md"
