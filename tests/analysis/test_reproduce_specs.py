"""Every reproduction spec resolves to valid experiments and dataset configurations at every scale."""

from __future__ import annotations

import pytest

from vaetk.errors import ConfigError
from vaetk.sweeps._grid import apply_overrides, expand_trials
from vaetk.sweeps._reproduce import SECTIONS, load_section

SCALES = [(section, scale) for section in SECTIONS for scale in ("cpu", "paper", "cpu_slow", "cpu_beta1")
          if scale in ("cpu", "paper") or section in ("5.2", "5.3")]


@pytest.mark.parametrize(("section", "scale"), SCALES)
def test_spec_resolves_to_valid_experiments(section, scale):
    from vaetk.data._generate import load_config
    from vaetk.training import parse_experiment

    spec = load_section(section, scale)
    assert spec.section == section and spec.seeds >= 1 and spec.studies
    for study in spec.studies:
        load_config(study.dataset)  # the dataset configuration is valid
        for trial in expand_trials(apply_overrides(study.experiment, {"data.path": "x.zarr"}), seeds=[0, 1],
                                   overrides=study.grid, seed_key=spec.seed_keys):
            config = parse_experiment(trial.config)
            assert config.training.seed == trial.seed
            if scale.startswith("cpu"):
                assert config.model.architecture["name"] == "small" and config.training.epochs <= 200
            if scale == "cpu_slow":
                assert (config.schedule_config.beta0, config.schedule_config.nu) == (1e-9, 0.005)
                assert config.schedule_config.reconstruction_epochs == 0
            if scale == "cpu_beta1":
                assert config.schedule_kind == "constant" and config.schedule_config.value == 1.0
    if scale.startswith("cpu"):
        assert spec.data_scale == "cpu"  # the variants share the cpu scale's datasets
    if section == "6":
        assert spec.plot_key in spec.studies[0].grid and "semi_supervised.label_seed" in spec.seed_keys


def test_unknown_section_and_scale():
    with pytest.raises(ConfigError, match="Did you mean '5.3'"):
        load_section("5.4", "cpu")
    with pytest.raises(ConfigError, match="no scale 'gpu'"):
        load_section("6", "gpu")


@pytest.mark.parametrize("section", SECTIONS)
def test_smoke_keeps_the_scale_and_shrinks_only_the_run(section):
    from vaetk.training import parse_experiment

    full, smoke = load_section(section, "paper"), load_section(section, "paper", smoke=True)
    assert (smoke.scale, smoke.data_scale, smoke.seeds) == ("paper_smoke", "paper_smoke", 1)
    for a, b in zip(full.studies, smoke.studies, strict=True):
        assert a.grid == b.grid and b.dataset["split"] == {"train": 128, "test": 64}
        assert {k: v for k, v in a.dataset.items() if k != "split"} == {k: v for k, v in b.dataset.items()
                                                                       if k != "split"}
        full_cfg = parse_experiment(apply_overrides(a.experiment, {"data.path": "x.zarr"}))
        smoke_cfg = parse_experiment(apply_overrides(b.experiment, {"data.path": "x.zarr"}))
        # the same model, prior and schedule kind: only the length of the run changes
        assert smoke_cfg.model == full_cfg.model and smoke_cfg.schedule_kind == full_cfg.schedule_kind
        assert smoke_cfg.training.epochs == 2 < full_cfg.training.epochs
        assert smoke_cfg.schedule_config.reconstruction_epochs < 2
