"""Sensitivity geometry M = E[J^T S^-1 J]: closed forms for linear and quadratic generators, the Darcy generator
against a store, the CLI, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from vaetk.analysis import bootstrap_angles, darcy_generator, darcy_sensitivity, plot_sensitivity, sensitivity_matrix
from vaetk.cli.__main__ import main
from vaetk.errors import ConfigError, DataError

SHAPE = (3, 4, 5)  # (C, H, W)
P = math.prod(SHAPE)


def _linear(a: np.ndarray):  # type: ignore[no-untyped-def]
    return lambda theta: (theta @ a.T).reshape(len(theta), *SHAPE)


def _rot(w: float) -> np.ndarray:
    return np.array([[math.cos(w), -math.sin(w)], [math.sin(w), math.cos(w)]])


def _isotropic_design(s: int) -> np.ndarray:
    """+-sqrt(s) e_j: sample mean exactly 0 and mean of theta theta^T exactly I (the moments of N(0, I))."""
    e = math.sqrt(s) * np.eye(s)
    return np.concatenate([e, -e])


def _weights(variance: np.ndarray) -> np.ndarray:
    return 1.0 / np.broadcast_to(variance, SHAPE).ravel()


def test_linear_generator_gives_a_transpose_s_inverse_a(rng: np.random.Generator) -> None:
    a = rng.standard_normal((P, 3))
    variance = rng.uniform(0.5, 2.0, SHAPE[1:])  # (H, W), shared across channels
    res = sensitivity_matrix(_linear(a), rng.standard_normal((7, 3)), variance)
    expected = a.T @ (_weights(variance)[:, None] * a)
    np.testing.assert_allclose(res.matrix, expected, rtol=1e-10)
    np.testing.assert_allclose(res.per_sample, np.broadcast_to(expected, (7, 3, 3)), rtol=1e-10)
    np.testing.assert_allclose(res.eigenvalues, np.linalg.eigvalsh(expected)[::-1], rtol=1e-10)
    np.testing.assert_allclose(res.matrix @ res.eigenvectors, res.eigenvectors * res.eigenvalues, rtol=1e-9)
    assert res.n_thetas == 7 and res.step == 1e-3 and res.eigenvalue_ratio == pytest.approx(
        res.eigenvalues[0] / res.eigenvalues[-1])
    assert np.all(res.eigenvectors[np.abs(res.eigenvectors).argmax(0), range(3)] > 0)  # sign convention


@pytest.mark.parametrize(("w_deg", "expected_deg"), [(0.0, 0.0), (10.0, 10.0), (27.0, 27.0), (45.0, 45.0),
                                                     (60.0, 30.0), (-20.0, 20.0), (100.0, 10.0)])
def test_rotated_orthogonal_generator_reports_the_rotation_angle(
    rng: np.random.Generator, w_deg: float, expected_deg: float
) -> None:
    variance = rng.uniform(0.5, 2.0, SHAPE[1:])
    d = np.array([9.0, 2.0])
    q, _ = np.linalg.qr(rng.standard_normal((P, 2)))
    b = np.sqrt(np.broadcast_to(variance, SHAPE).ravel())[:, None] * q * np.sqrt(d)  # B^T S^-1 B = diag(d)
    np.testing.assert_allclose(b.T @ (_weights(variance)[:, None] * b), np.diag(d), atol=1e-12)
    w = math.radians(w_deg)
    res = sensitivity_matrix(_linear(b @ _rot(w)), _isotropic_design(2), variance)
    assert res.angles == pytest.approx([expected_deg, expected_deg], abs=1e-8)
    assert res.eigenvalue_ratio == pytest.approx(d[0] / d[1], rel=1e-10)
    np.testing.assert_allclose(res.eigenvalues, d, rtol=1e-10)
    m12 = (d[1] - d[0]) * math.sin(w) * math.cos(w)  # R^T diag(d) R
    m11, m22 = d[0] * math.cos(w) ** 2 + d[1] * math.sin(w) ** 2, d[0] * math.sin(w) ** 2 + d[1] * math.cos(w) ** 2
    assert res.correlation[0, 1] == pytest.approx(m12 / math.sqrt(m11 * m22), abs=1e-10)
    c, s = abs(math.cos(w)), abs(math.sin(w))
    assert res.sd_aligned == pytest.approx(max(c, s) / (c + s), abs=1e-10)
    assert res.sd_metric == pytest.approx(res.sd_aligned, abs=1e-10)  # isotropic theta: the metric agrees


def test_bootstrap_interval_is_exact_for_a_linear_generator_and_widens_with_noise(rng: np.random.Generator) -> None:
    """A linear generator has the same J at every theta, so every resample gives the true angle; a quadratic one
    has per-theta matrices that scatter, and its interval has a width and contains the point estimate."""
    variance = rng.uniform(0.5, 2.0, SHAPE[1:])
    q, _ = np.linalg.qr(rng.standard_normal((P, 2)))
    b = np.sqrt(np.broadcast_to(variance, SHAPE).ravel())[:, None] * q * np.sqrt([9.0, 2.0])
    res = sensitivity_matrix(_linear(b @ _rot(math.radians(20.0))), rng.standard_normal((50, 2)), variance)
    np.testing.assert_allclose(bootstrap_angles(res, n_boot=50), [[20.0, 20.0], [20.0, 20.0]], atol=1e-8)
    a = rng.standard_normal((P, 2))
    quad = rng.standard_normal((P, 2, 2))
    quad = 0.5 * (quad + quad.transpose(0, 2, 1))
    noisy = sensitivity_matrix(_quadratic(a, quad), rng.standard_normal((400, 2)), variance)
    lo, hi = bootstrap_angles(noisy, n_boot=400, seed=1)[0]
    assert lo < noisy.angles[0] < hi and hi - lo > 0.01
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_angles(noisy, n_boot=1)


def _quadratic(a: np.ndarray, q: np.ndarray):  # type: ignore[no-untyped-def]
    def fields_of(theta: np.ndarray) -> np.ndarray:
        out = theta @ a.T + 0.5 * np.einsum("ni,kij,nj->nk", theta, q, theta)
        return out.reshape(len(theta), *SHAPE)

    return fields_of


def test_quadratic_generator_matches_the_gaussian_moments(rng: np.random.Generator) -> None:
    """fields_k = a_k . theta + theta^T Q_k theta / 2: J = A + (Q_k theta)_k and, for E theta = 0,
    E theta theta^T = I, M = A^T W A + sum_k w_k Q_k^2 (the cross terms are odd in theta)."""
    s = 3
    a = rng.standard_normal((P, s))
    q = rng.standard_normal((P, s, s))
    q = q + np.swapaxes(q, 1, 2)
    variance = rng.uniform(0.5, 2.0, SHAPE)
    wts = _weights(variance)
    expected = a.T @ (wts[:, None] * a) + np.einsum("k,kij,kjl->il", wts, q, q)
    res = sensitivity_matrix(_quadratic(a, q), _isotropic_design(s), variance, step=0.1)  # exact for any step
    np.testing.assert_allclose(res.matrix, expected, rtol=1e-10)
    assert np.ptp(res.per_sample, axis=0).max() > 1.0  # J depends on theta
    # Monte Carlo under theta ~ N(0, I): within 5 standard errors of the per-sample mean
    mc = sensitivity_matrix(_quadratic(a, q), rng.standard_normal((4000, s)), variance)
    se = mc.per_sample.std(axis=0) / math.sqrt(mc.n_thetas)
    assert np.all(np.abs(mc.matrix - expected) <= 5 * se + 1e-9)


def test_plots_for_two_and_more_parameters(rng: np.random.Generator) -> None:
    import matplotlib.pyplot as plt

    variance = np.ones(SHAPE[1:])
    two = sensitivity_matrix(_linear(rng.standard_normal((P, 2))), rng.standard_normal((20, 2)), variance)
    three = sensitivity_matrix(_linear(rng.standard_normal((P, 3))), rng.standard_normal((5, 3)), variance)
    for fig in (plot_sensitivity(two, two.thetas), plot_sensitivity(two), plot_sensitivity(three)):
        assert "angle" in fig.axes[0].get_title()
        plt.close(fig)


# -- Darcy -------------------------------------------------------------------------------------------------------
def _tiny_config(n: int = 17) -> dict:
    return {"n": n, "n_modes": 2, "scheme": "paper", "solver": "auto",
            "kle": {"length_scale": 0.1, "variance": 1.0, "mean": 0.0},
            "distribution": {"name": "gaussian_mixture", "preset": "paper_4mode"},
            "split": {"train": 8, "test": 0}}


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vaetk.data import generate

    out = tmp_path_factory.mktemp("sens") / "tiny.zarr"
    generate(_tiny_config(), out, seed=11, shard_size=4, n_workers=1)
    return out


def test_darcy_generator_reproduces_the_store(tiny_store: Path) -> None:
    from vaetk.data import open_store

    group = open_store(tiny_store).root["train"]
    theta, stored = group["theta"][...], group["fields"][...]
    tol = 2 * np.finfo(np.float32).eps * np.abs(stored).max()
    for source in (tiny_store, str(tiny_store), open_store(tiny_store), _tiny_config()):
        fields = darcy_generator(source)(theta)
        assert fields.shape == stored.shape and fields.dtype == np.float64
        assert np.abs(fields.astype(np.float32) - stored).max() <= tol


def test_darcy_sensitivity_of_a_store_uses_its_training_variance(tiny_store: Path) -> None:
    import torch

    from vaetk.data import open_store
    from vaetk.data._generate import load_config
    from vaetk.training import constant_predictor

    res = darcy_sensitivity(tiny_store, n_thetas=6, seed=4)
    thetas = load_config(_tiny_config()).make_distribution().sample(6, np.random.default_rng(4))
    np.testing.assert_array_equal(res.thetas, thetas)
    fields = open_store(tiny_store).root["train"]["fields"][...].astype(np.float64)
    variance = constant_predictor(torch.from_numpy(fields)).variance.numpy()
    expected = sensitivity_matrix(darcy_generator(tiny_store), thetas, variance)
    np.testing.assert_allclose(res.matrix, expected.matrix, rtol=1e-12)
    assert np.all(res.eigenvalues > 0) and 0.0 <= res.angles[0] <= 45.0 and 0.5 <= res.sd_aligned <= 1.0
    assert res.info["n"] == 17 and "train" in res.info["variance_from"]
    with pytest.raises(ConfigError, match="'n'|n = 33"):
        darcy_sensitivity(tiny_store, n_thetas=2, n=33)


def test_darcy_sensitivity_of_a_preset_at_another_grid() -> None:
    res = darcy_sensitivity("kle2_shifted_gaussian", n_thetas=4, n=9, seed=1)
    assert res.info["n"] == 9 and res.info["dataset"] == "kle2_shifted_gaussian"
    assert res.matrix.shape == (2, 2) and np.all(np.linalg.eigvalsh(res.matrix) > 0)
    again = darcy_sensitivity("kle2_shifted_gaussian", n_thetas=4, n=9, seed=1)
    np.testing.assert_array_equal(res.matrix, again.matrix)  # deterministic


def test_cli_writes_json_and_png(tiny_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "a"
    assert main(["analyze", "sensitivity", str(tiny_store), "--n-samples", "5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "eigenvector angle" in text and "eigenvalue ratio" in text and "S_D of an M-aligned encoder" in text
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["n_thetas"] == 5 and len(data["matrix"]) == 2 and len(data["per_sample"]) == 5
    assert {"angles", "eigenvalues", "eigenvectors", "eigenvalue_ratio", "correlation", "sd_aligned", "step",
            "thetas", "info", "angle_interval_95"} <= set(data)
    assert "95% bootstrap interval" in text
    assert (out / "sensitivity.png").stat().st_size > 0
    out = tmp_path / "b"
    args = ["analyze", "sensitivity", "kle2_gaussian_mixture", "--n", "9", "--thetas", "3", "--step", "1e-2"]
    assert main([*args, "--seed", "2", "--out", str(out)]) == 0  # --thetas: the old spelling of --n-samples
    assert "--thetas is deprecated; use --n-samples" in capsys.readouterr().err
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["info"]["n"] == 9 and data["n_thetas"] == 3
    assert main(["analyze", "sensitivity", str(tiny_store), "--n", "9", "--out", str(out)]) == 1
    assert main(["analyze", "sensitivity", "kle2_standard_nomal", "--out", str(out)]) == 1
    assert "kle2_standard_normal" in capsys.readouterr().err


# -- bad input ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("thetas", [np.zeros(4), np.zeros((0, 2)), np.zeros((2, 2, 1)), [[0.0, np.nan]]])
def test_bad_thetas(thetas: object) -> None:
    with pytest.raises(DataError, match="thetas"):
        sensitivity_matrix(_linear(np.ones((P, 2))), thetas, 1.0)


@pytest.mark.parametrize("variance", [0.0, -1.0, np.array([[1.0, np.nan]]), np.ones((2, 3))])
def test_bad_variance(variance: object) -> None:
    with pytest.raises(DataError, match="variance"):
        sensitivity_matrix(_linear(np.ones((P, 2))), np.zeros((3, 2)), variance)


@pytest.mark.parametrize("step", [0.0, -1e-3, float("nan"), float("inf"), "0.1", True])
def test_bad_step(step: object) -> None:
    with pytest.raises(ConfigError, match="step"):
        sensitivity_matrix(_linear(np.ones((P, 2))), np.zeros((3, 2)), 1.0, step=step)  # type: ignore[arg-type]


def test_bad_generator_output_and_darcy_arguments() -> None:
    with pytest.raises(DataError, match="fields_of"):
        sensitivity_matrix(lambda t: np.zeros((len(t), P)), np.zeros((3, 2)), 1.0)
    with pytest.raises(DataError, match="fields_of"):
        sensitivity_matrix(lambda t: np.zeros((1, *SHAPE)), np.zeros((3, 2)), 1.0)
    for kwargs, name in (({"n_thetas": 0}, "n_thetas"), ({"seed": -1}, "seed"), ({"n": 2}, "'n'"),
                         ({"step": 0.0}, "step")):
        with pytest.raises(ConfigError, match=name):
            darcy_sensitivity("kle2_standard_normal", **{"n": 9, "n_thetas": 2, **kwargs})
