"""Rate-distortion plane from a beta sweep; aggregated posteriors and latent-factor grids."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from vaetk_plugins.priors.gaussian import GaussianPrior
from vaetk_plugins.priors.standard_normal import StandardNormalPrior

from vaetk.analysis import (
    aggregated_posterior,
    plot_latent_factor_grid,
    plot_posterior_comparison,
    plot_rd_plane,
    posterior_view,
    rd_points,
    read_trajectory,
)
from vaetk.errors import DataError

from ._tiny import tiny_data, tiny_vae


def _write_sweep(root, rows):
    trials = []
    for beta, rec, reg, over, status in rows:
        tid = f"beta-{beta:g}__seed-0"
        trials.append({"trial_id": tid, "setting": {"schedule.beta": beta}, "seed": 0})
        (root / "records" / tid).mkdir(parents=True)
        result = {} if status != "ok" else {"rec_per_pixel": rec, "reg_per_pixel": reg, "over_regularized": over}
        (root / "records" / tid / "trial.json").write_text(json.dumps({
            "trial_id": tid, "setting": {"schedule.beta": beta}, "seed": 0, "status": status, "result": result}))
    (root / "sweep.json").write_text(json.dumps({"trials": trials}))


def test_rd_points_sorted_by_beta_failed_left_out_and_plot(tmp_path):
    _write_sweep(tmp_path, [(1.0, -9.4, 0.02, False, "ok"), (100.0, -8.15, 1e-5, True, "ok"),
                            (0.1, -9.6, 0.05, False, "ok"), (10.0, 0.0, 0.0, False, "failed")])
    pts = rd_points(tmp_path, "schedule.beta")
    np.testing.assert_array_equal(pts.beta, [100.0, 1.0, 0.1])
    np.testing.assert_array_equal(pts.rec, [-8.15, -9.4, -9.6])
    np.testing.assert_array_equal(pts.over_regularized, [True, False, False])
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text("epoch,train_rec_per_pixel,train_reg_per_pixel\n1,-1.0,0.5\n2,-5.0,0.1\n")
    reg, rec = read_trajectory(run)
    np.testing.assert_array_equal(reg, [0.5, 0.1]) and np.testing.assert_array_equal(rec, [-1.0, -5.0])
    fig = plot_rd_plane(pts, trajectory=(reg, rec))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["converged", "over-regularised", "training trajectory"]
    plt.close(fig)
    with pytest.raises(DataError, match="swept keys: \\['schedule.beta'\\]"):
        rd_points(tmp_path, "beta")
    with pytest.raises(DataError, match="history.csv"):
        read_trajectory(tmp_path)


def test_aggregated_posterior_and_views():
    x, theta = tiny_data(n=24)
    vae = tiny_vae(StandardNormalPrior, 0)
    agg = aggregated_posterior(vae, x, samples_per_datum=3, batch_size=10)
    assert agg.shape == (72, 2) and agg.dtype == np.float64
    np.testing.assert_array_equal(agg, aggregated_posterior(vae, x, samples_per_datum=3, batch_size=10))
    view = posterior_view("plain", vae, x, theta, n_prior=50)
    assert view.means.shape == (24, 2) and view.prior.shape == (50, 2) and view.theta.shape == (24, 2)
    vae2 = tiny_vae(GaussianPrior, 1, prior_config=GaussianPrior.Config(mean=(3.0,), variance=(1e-4,)))
    view2 = posterior_view("shifted prior", vae2, x, theta, n_prior=200)
    np.testing.assert_allclose(view2.prior.mean(0), [3.0, 3.0], atol=0.01)
    fig = plot_posterior_comparison([view, view2])
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "shifted prior"
    plt.close(fig)
    grid = plot_latent_factor_grid(view)
    assert len(grid.axes) == 4
    plt.close(grid)
    with pytest.raises(DataError, match="dims"):
        plot_posterior_comparison([view], dims=(0, 2))
    with pytest.raises(DataError, match=r"generative parameters must have shape \(24, s\), got \(3, 2\)"):
        posterior_view("bad", vae, x, torch.zeros(3, 2))


def test_cli_analyze_rd_writes_data_and_figure(tmp_path, capsys):
    from vaetk.cli.__main__ import main

    _write_sweep(tmp_path, [(1.0, -9.4, 0.02, False, "ok"), (100.0, -8.15, 1e-5, True, "ok")])
    assert main(["analyze", "rd", str(tmp_path), "--beta-key", "schedule.beta"]) == 0
    data = json.loads((tmp_path / "analysis" / "rd_plane.json").read_text())
    assert data["beta"] == [100.0, 1.0] and data["over_regularized"] == [True, False]
    assert (tmp_path / "analysis" / "rd_plane.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["analyze", "rd", str(tmp_path), "--beta-key", "nope"]) == 1
    assert "swept keys" in capsys.readouterr().err
