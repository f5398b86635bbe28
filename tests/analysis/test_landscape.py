"""Loss landscape: interpolation lines, Xavier initialisations, random directions, BatchNorm handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vaetk_plugins.priors.standard_normal import StandardNormalPrior

from vaetk.analysis import (
    dataset_losses,
    init_to_trained_lines,
    interpolate,
    loss_along_line,
    plot_lines,
    random_direction_lines,
    xavier_uniform_init,
)
from vaetk.errors import ConfigError, DataError

from ._tiny import tiny_data, tiny_vae, train_briefly


def _sd(latents, factors):
    """S_D (eq. 6) written out independently for the test."""
    z = latents - latents.mean(0)
    t = factors - factors.mean(0)
    c = np.abs(z.T @ t)
    return float(np.mean(c.max(1) / c.sum(1)))


@pytest.fixture(scope="module")
def models():
    x, theta = tiny_data()
    a = train_briefly(tiny_vae(StandardNormalPrior, 1), x, seed=1)
    b = train_briefly(tiny_vae(StandardNormalPrior, 2), x, seed=2)
    return a, b, x, theta


@pytest.mark.parametrize("batchnorm", ["recompute", "eval", "batch"])
def test_line_end_points_reproduce_the_end_models_exactly(models, batchnorm):
    a, b, x, theta = models
    kw = dict(n_latent_samples=3, batch_size=16, seed=5, batchnorm=batchnorm)
    line = loss_along_line(a, b, x, alphas=[0.0, 0.5, 1.0], theta=theta, scores={"sd": _sd}, **kw)
    ends = dataset_losses(a, x, **kw), dataset_losses(b, x, **kw)
    assert set(line.losses) >= {"rec_elbo", "reg_elbo", "loss_elbo", "rec_per_pixel", "reg_per_pixel"}
    for key, values in line.losses.items():
        assert values.shape == (3,)
        assert values[0] == ends[0][key] and values[2] == ends[1][key], key
    assert line.scores["sd"].shape == (3,) and np.all((line.scores["sd"] >= 0.5) & (line.scores["sd"] <= 1))
    assert line.losses["loss_elbo"][1] != line.losses["loss_elbo"][0]


def test_dataset_losses_are_deterministic_and_average_over_samples(models):
    a, _, x, _ = models
    one = dataset_losses(a, x, n_latent_samples=1, seed=3)
    assert dataset_losses(a, x, n_latent_samples=1, seed=3) == one
    assert dataset_losses(a, x, n_latent_samples=1, seed=4)["rec_elbo"] != one["rec_elbo"]
    many = dataset_losses(a, x, n_latent_samples=4, seed=3)
    # the analytic KL does not depend on the latent samples; the reconstruction does
    assert many["reg_elbo"] == pytest.approx(one["reg_elbo"], rel=1e-6)
    assert many["rec_elbo"] != one["rec_elbo"]
    assert many["loss_per_pixel"] == pytest.approx(many["rec_per_pixel"] + many["reg_per_pixel"])
    assert many["rec_per_pixel"] == pytest.approx(many["rec_elbo"] / 16)
    assert many["reg_per_pixel"] == pytest.approx(many["reg_elbo"] / 2)


def test_recompute_uses_the_data_statistics_not_the_stored_ones(models):
    a, _, x, _ = models
    stored = dataset_losses(a, x, n_latent_samples=2, batchnorm="eval")
    recomputed = dataset_losses(a, x, n_latent_samples=2, batchnorm="recompute")
    assert stored != recomputed
    # recompute with the model's running stats already equal to the data's: same as eval
    from vaetk.analysis import prepared_for_eval

    with prepared_for_eval(a, x, batchnorm="recompute", batch_size=len(x)) as fixed:
        pass
    assert dataset_losses(fixed, x, n_latent_samples=2, batchnorm="eval", batch_size=len(x)) == pytest.approx(
        dataset_losses(a, x, n_latent_samples=2, batchnorm="recompute", batch_size=len(x)), rel=1e-6)
    # and the model passed in is never modified
    before = {k: v.clone() for k, v in a.state_dict().items()}
    dataset_losses(a, x, n_latent_samples=1, batchnorm="recompute")
    assert all(torch.equal(before[k], v) for k, v in a.state_dict().items())


def test_interpolate_midpoint_and_integer_buffers(models):
    a, b, _, _ = models
    mid = interpolate(a, b, 0.25)
    sa, sb, sm = a.state_dict(), b.state_dict(), mid.state_dict()
    for key in sa:
        if sa[key].is_floating_point():
            torch.testing.assert_close(sm[key], 0.75 * sa[key] + 0.25 * sb[key])
        else:
            assert torch.equal(sm[key], sa[key])
    with pytest.raises(ConfigError, match="finite"):
        interpolate(a, b, float("nan"))
    other = tiny_vae(StandardNormalPrior, 3, latent_dim=3)
    with pytest.raises(DataError, match="shape"):
        interpolate(a, other, 0.5)


def test_xavier_init_is_seeded_and_bounded(models):
    a, _, _, _ = models
    i1, i2, i3 = xavier_uniform_init(a, 7), xavier_uniform_init(a, 7), xavier_uniform_init(a, 8)
    assert all(torch.equal(p, q) for p, q in zip(i1.parameters(), i2.parameters(), strict=True))
    assert not torch.equal(i1.architecture.mu.weight, i3.architecture.mu.weight)
    w = i1.architecture.enc[1].weight.detach()
    bound = (6.0 / (w.shape[0] + w.shape[1])) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.8 * bound
    assert float(i1.architecture.enc[1].bias.detach().abs().max()) == 0.0
    assert float(i1.architecture.decoder_logvar.detach().abs().max()) == 0.0
    assert torch.equal(i1.architecture.enc[2].running_var, torch.ones(8))


def test_init_lines_and_random_directions_shapes_and_plot(models):
    a, _, x, theta = models
    lines = init_to_trained_lines(a, x, n_inits=2, alphas=4, n_latent_samples=1, theta=theta, scores={"sd": _sd})
    assert [ln.label for ln in lines] == ["init 0 -> trained", "init 1 -> trained"]
    assert np.allclose(lines[0].t, [0, 1 / 3, 2 / 3, 1])
    end = dataset_losses(a, x, n_latent_samples=1)
    assert all(ln.losses["loss_per_pixel"][-1] == end["loss_per_pixel"] for ln in lines)
    dirs = random_direction_lines(a, x, n_directions=3, steps=[0.0, 0.5], n_latent_samples=1)
    assert len(dirs) == 3 and all(d.losses["loss_elbo"].shape == (2,) for d in dirs)
    assert all(d.losses["loss_elbo"][0] == end["loss_elbo"] for d in dirs)  # step 0 is the trained model
    assert len({float(d.losses["loss_elbo"][1]) for d in dirs}) == 3
    fig = plot_lines(lines, "loss_per_pixel", score="sd")
    assert len(fig.axes) == 2
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(ConfigError, match="no loss"):
        plot_lines(lines, "nope")


def test_sampling_priors_are_deterministic_and_the_global_rng_is_restored():
    from vaetk_plugins.priors.hierarchical import HierarchicalPrior

    x, _ = tiny_data(n=16)
    vae = tiny_vae(HierarchicalPrior, 4)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = dataset_losses(vae, x, n_latent_samples=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert dataset_losses(vae, x, n_latent_samples=2) == first
    assert dataset_losses(vae, x, n_latent_samples=2, seed=1)["reg_elbo"] != first["reg_elbo"]
