"""Reports and figures say what their numbers are: each loss in its true unit, counts as integers, every figure
panel readable at its own scale."""

from __future__ import annotations

import json

import numpy as np

from vaetk.cli.__main__ import main
from vaetk.models.vae import loss_units
from vaetk.training._plots import plot_latent_space, plot_reconstructions, plot_training_curves

from .test_runs import store, write_experiment  # noqa: F401 - the module-scoped tiny store fixture


def test_loss_units_follow_the_priors_normaliser() -> None:
    assert loss_units(2.0, 2)["reg_per_pixel"] == "nats/latent dim"  # the standard prior: KL averaged over z
    assert loss_units(1.0, 2)["reg_per_pixel"] == "nats/sample"  # the hierarchical prior: not averaged
    assert loss_units(2.0, 2)["loss_per_pixel"] == "nats/pixel + nats/latent dim"  # a sum of two units, said so


def test_cli_and_report_label_every_loss_with_its_unit(tmp_path, store, capsys):  # noqa: F811
    exp = write_experiment(tmp_path, store, epochs=1, **{"metrics = []": 'metrics = [{name = "sd"}]'})
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--no-progress"]) == 0
    trained = capsys.readouterr().out
    assert "nats/pixel" in trained and "-ELBO" in trained and "(per pixel" not in trained
    assert main(["evaluate", str(run)]) == 0
    evaluated = capsys.readouterr().out
    assert "L_REG" in evaluated and "nats/latent dim" in evaluated and "nats (ELBO)" not in evaluated
    assert "active_dims 2," in evaluated  # a count, not 2.0000
    report = json.loads((run / "report.json").read_text())
    assert report["units"]["loss_elbo"] == "nats/sample"
    assert "| -ELBO (nats/sample) |" in (run / "report.md").read_text()


def test_latent_space_panels_each_at_their_own_scale() -> None:
    rng = np.random.default_rng(0)
    posterior, prior, theta = 0.1 * rng.standard_normal((200, 2)), 40 * rng.standard_normal((200, 2)), \
        rng.standard_normal((200, 2))
    fig = plot_latent_space(posterior, prior, theta)
    widths = [np.diff(ax.get_xlim())[0] for ax in fig.axes]
    assert widths[0] < 1.5 and widths[1] > 50 and 2 < widths[2] < 10


def test_reconstructions_have_colour_bars_and_theta_labels() -> None:
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2, 3, 9, 9))
    fig = plot_reconstructions(data, data + 0.01, theta=np.array([[0.5, -1.25], [1.0, 2.0]]))
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 2 * 3 * 3 and len(fig.axes) - len(images) == 2 * 3 * 2  # a bar per pair + per error
    assert images[0].get_ylabel() == "theta = (0.50, -1.25)"


def test_training_curves_plot_sd_and_leave_beta_zero_off_the_log_axis() -> None:
    history = [{"epoch": e, "beta": 0.0 if e <= 3 else 10.0 ** (e - 10), "train_rec_per_pixel": -e,
                "train_reg_per_pixel": 0.1 * e, **({"test_sd": 0.5 + 0.04 * e} if e % 2 == 0 else {})}
               for e in range(1, 11)]
    fig = plot_training_curves(history, baseline=-1.0, units=loss_units(2.0, 2))
    ax_rec, ax_reg, ax_beta, ax_sd = fig.axes
    assert ax_reg.get_title() == "L_REG (nats/latent dim)" and ax_sd.get_title().startswith("S_D")
    beta_line = ax_beta.get_lines()[0].get_ydata()
    assert len(beta_line) == 7 and (np.asarray(beta_line) > 0).all()  # epochs 4-10; beta = 0 is shaded instead
    assert "beta = 0" in [t.get_text() for t in ax_beta.get_legend().get_texts()]
    np.testing.assert_allclose(ax_sd.get_lines()[0].get_ydata(), [0.58, 0.66, 0.74, 0.82, 0.9])
