"""The third-party example prior (plugins/example, distribution vaetk-example-mog) trains through `vaetk train`
from the package's own TOML experiment, found only through its entry point (vaetk never names it).

The package is presented as installed with the hand-made dist-info in tests/fixtures/example_dist (no pip; the
slow test in tests/models/test_example_plugin.py and .ci/run really pip-install it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vaetk.cli.__main__ import main
from vaetk.registry import registry

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "plugins" / "example"


def test_example_prior_is_not_part_of_vaetk() -> None:
    # Guards the test below: the prior comes from the example package's entry point, not from vaetk itself
    # (.ci/run pip-installs the example package, so it may be listed, but never as vaetk's).
    providers = {info.distribution for info in registry.priors.entries() if info.name == "mixture_of_gaussians"}
    assert providers <= {"vaetk-example-mog"}


@pytest.mark.usefixtures("example_installed")
def test_example_prior_trains_from_its_toml_through_vaetk_train(tmp_path: Path, capsys) -> None:
    from vaetk.training._run import build_model, load_model

    store, run = tmp_path / "data.zarr", tmp_path / "run"
    # The package's own data and experiment files (64 + 64 samples on 17 x 17; 4 epochs of `small`).
    assert main(["generate", "darcy", str(EXAMPLE / "configs" / "data.toml"), "--out", str(store), "--seed", "0",
                 "--workers", "1", "--no-progress"]) == 0
    experiment = EXAMPLE / "configs" / "experiment.toml"
    assert main(["train", str(experiment), "--data", str(store), "--out", str(run), "--device", "cpu",
                 "--no-progress"]) == 0
    assert "trained 4 epochs" in capsys.readouterr().out

    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["versions"]["plugins"]["prior"] == {
        "name": "mixture_of_gaussians", "distribution": "vaetk-example-mog", "version": "0.1.0"}
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 4
    assert all(torch.isfinite(torch.tensor([row["train_loss_elbo"], row["train_reg_elbo"]])).all()
               for row in history)
    # It learned: the reconstruction improved, and the prior's own parameters (its component means) moved from
    # their seeded initial values, i.e. the trainer optimised the plugin's parameters too.
    assert history[-1]["train_rec_per_pixel"] < history[0]["train_rec_per_pixel"]
    model, config = load_model(run)
    assert type(model.prior).__module__.startswith("vaetk_example_mog")
    initial, _ = build_model(config.with_overrides(data_path=str(store)), model.input_shape)
    assert model.prior.means.shape == initial.prior.means.shape == (4, 2)
    assert float((model.prior.means - initial.prior.means).detach().abs().max()) > 1e-4
    assert float((model.architecture.decoder_offset).abs().max()) > 0  # trainer defaults applied to it too
