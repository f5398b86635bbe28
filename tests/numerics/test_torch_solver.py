"""The device-generic torch solver (``solver="torch"``, ``solve(..., device=...)``): agreement with the native
solver on both schemes, odd and even n, smooth and high-contrast fields; per-sample records and masking;
non-convergence; device errors; the plugin contract; dataset generation; and (marker `cuda`, run with
`-m cuda`) the GPU against the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaetk.cli.__main__ import main
from vaetk.config import dump_toml
from vaetk.darcy import paper_source, solve
from vaetk.darcy._torch_solver import coarse_size, prolong, restrict, time_batch, torch_solve
from vaetk.data import GenerationConfig, generate, open_store
from vaetk.errors import ConfigError, SolverError
from vaetk.registry import registry
from vaetk.testing import parametrize_with_checks

from .test_solvers import smooth_permeability as kle_like

TorchSolver = registry.solvers.get("torch")


def small_config(n: int = 17, train: int = 5, test: int = 3) -> dict:
    """A tiny KLE2 dataset (as tests/data/conftest.py's): 4-mode mixture theta, paper scheme."""
    return {"n": n, "n_modes": 2, "scheme": "paper", "solver": "auto",
            "kle": {"length_scale": 0.1, "variance": 1.0, "mean": 0.0},
            "distribution": {"name": "gaussian_mixture", "preset": "paper_4mode"},
            "split": {"train": train, "test": test}}


def _relative(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per channel [p, u_x, u_y]: max |a - b| / max |b|."""
    return np.abs(a - b).max(axis=(0, 2, 3)) / np.abs(b).max(axis=(0, 2, 3))


@pytest.mark.parametrize("scheme", ["conservative", "paper"])
@pytest.mark.parametrize(("n", "batch"), [(17, 3), (33, 2), (40, 2), (65, 2), (129, 1)])  # 40: not 2^k + 1
def test_agrees_with_native(scheme: str, n: int, batch: int, rng: np.random.Generator) -> None:
    K = kle_like(rng, batch, n)
    expected, native = solve(K, scheme=scheme, solver="native", return_info=True)
    fields, info = solve(K, scheme=scheme, device="cpu", return_info=True)
    assert info.solver == "torch" and info.device == "cpu"
    # Both reach 1e-10 on the residual; the fields then agree far below 1e-8 (measured: ~1e-14 conservative, ~1e-11
    # paper).
    assert np.all(_relative(fields, expected) < 1e-8), _relative(fields, expected)
    assert info.residual.shape == (batch,) and np.all(info.residual <= 1e-10)
    assert info.iterations.dtype == np.int64 and np.all(info.iterations <= 25)
    if scheme == "conservative":
        # The same CG and the same rediscretised V-cycle as native: the same step counts (up to a rounding tie).
        assert np.all(np.abs(info.iterations - native.iterations) <= 1), (info.iterations, native.iterations)
        assert info.mass_balance.max() < 1e-8
    np.testing.assert_allclose(info.mass_balance, native.mass_balance, rtol=1e-3, atol=1e-9)
    assert info.zero_mean.max() < 1e-12


@pytest.mark.parametrize("coarsening", ["rediscretize", "galerkin"])
def test_high_contrast_conservative(coarsening: str, rng: np.random.Generator) -> None:
    """White-noise log-permeability, standard deviation 2 (contrast ~1e5), odd and even n: as native's test."""
    solver = TorchSolver({"device": "cpu", "coarsening": coarsening})
    for n in (33, 34):
        K = np.exp(2.0 * rng.standard_normal((2, n, n)))
        fields, info = solve(K, solver=solver, return_info=True)
        expected = solve(K, solver="native", tol=1e-12)
        assert info.iterations.max() <= 60 and info.residual.max() <= 1e-10
        np.testing.assert_allclose(fields[:, 0], expected[:, 0], rtol=0, atol=1e-7 * np.abs(expected[:, 0]).max())


def test_high_contrast_paper(rng: np.random.Generator) -> None:
    """A smooth field with contrast ~1e4 (log-permeability amplitude ~2.5) on the non-symmetric paper scheme."""
    K = kle_like(rng, 2, 33) ** 2.5
    assert K.max() / K.min() > 1e3
    fields, info = solve(K, scheme="paper", device="cpu", return_info=True)
    expected = solve(K, scheme="paper", solver="reference")
    assert info.residual.max() <= 1e-10 and info.iterations.max() <= 60
    assert np.all(_relative(fields, expected) < 1e-7), _relative(fields, expected)


@pytest.mark.parametrize("scheme", ["conservative", "paper"])
def test_each_sample_stops_on_its_own_and_is_reported(scheme: str, rng: np.random.Generator) -> None:
    """A batch of an easy and a hard sample: the easy one stops early (its result equals its solve alone), the
    hard one hits maxiter and is named; the records are per sample."""
    n = 33
    easy = np.ones((n, n))
    hard = np.exp(2.5 * rng.standard_normal((n, n)))
    K = torch.from_numpy(np.stack([easy, hard]))
    q = "cell" if scheme == "conservative" else "node"
    f = torch.from_numpy(np.broadcast_to(paper_source(n, quadrature=q), (2, n, n)).copy())
    p, residual, iterations = torch_solve(K, f, scheme, tol=1e-10, maxiter=12)  # K = 1 needs 10-11 steps
    assert iterations[1] == 12 and residual[1] > 1e-10
    assert iterations[0] < 12 and residual[0] <= 1e-10
    alone = torch_solve(K[:1], f[:1], scheme, tol=1e-10, maxiter=12)
    assert int(alone[2][0]) == int(iterations[0])
    torch.testing.assert_close(p[0], alone[0][0], rtol=0, atol=1e-13 * float(p[0].abs().max()))
    solver = TorchSolver({"device": "cpu", "maxiter": 12})
    with pytest.raises(SolverError, match=r"sample 1: .* after 12 iterations \(maxiter 12\); 1 of 2"):
        solver.solve_batch(K.numpy(), f.numpy(), scheme)


def test_zero_source_gives_zero_pressure() -> None:
    K = np.ones((2, 9, 9))
    result = TorchSolver({"device": "cpu"}).solve_batch(K, np.zeros_like(K), "paper")
    assert np.all(result.pressure == 0) and np.all(result.residual == 0) and np.all(result.iterations == 0)


def test_chunks_give_the_same_result(rng: np.random.Generator) -> None:
    K = kle_like(rng, 5, 17)
    f = np.broadcast_to(paper_source(17), K.shape)
    whole = TorchSolver({"device": "cpu"}).solve_batch(K, f, "paper")
    chunked = TorchSolver({"device": "cpu", "batch_size": 2}).solve_batch(K, f, "paper")
    np.testing.assert_allclose(chunked.pressure, whole.pressure, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(chunked.iterations, whole.iterations)


@pytest.mark.parametrize("m", [5, 6, 9, 12, 17])
def test_restriction_is_the_transpose_of_prolongation(m: int) -> None:
    mc = coarse_size(m)
    gen = torch.Generator().manual_seed(m)
    xc = torch.randn(2, mc, mc, generator=gen, dtype=torch.float64)
    r = torch.randn(2, m, m, generator=gen, dtype=torch.float64)
    torch.testing.assert_close((prolong(xc, m) * r).sum((1, 2)), (xc * restrict(r, mc)).sum((1, 2)))
    assert torch.equal(prolong(torch.ones(1, mc, mc, dtype=torch.float64), m), torch.ones(1, m, m, dtype=torch.float64))


def test_device_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    K = np.ones((1, 9, 9))
    with pytest.raises(ConfigError, match="'device' parameter of solve"):
        solve(K, device="gpu")
    with pytest.raises(ConfigError, match="'device' parameter of solver 'torch'"):
        TorchSolver({"device": "cuda:x"})
    with pytest.raises(ConfigError, match="solver='native' was given"):
        solve(K, solver="native", device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match=rf"device '{device}' was asked for.*available: cpu only"):
            solve(K, device=device)
    assert solve(K, device="auto", return_info=True)[1].device == "cpu"


def test_generation_config_device() -> None:
    base = {"n": 9, "split": {"train": 2, "test": 0}}
    assert GenerationConfig.from_dict({**base, "device": "cuda:0"}).device == "cuda:0"
    with pytest.raises(ConfigError, match="'solver' parameter of the generation config"):
        GenerationConfig.from_dict({**base, "solver": "native", "device": "cpu"})
    with pytest.raises(ConfigError, match="'device' parameter of the generation config"):
        GenerationConfig.from_dict({**base, "device": "gpu"})


def test_generate_without_cuda_fails_before_writing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device 'cuda' was asked for"):
        generate(small_config(train=2, test=0), tmp_path / "s.zarr", seed=1, device="cuda")
    assert not (tmp_path / "s.zarr").exists() or not any((tmp_path / "s.zarr").iterdir())


def test_store_generated_on_the_cpu_device_equals_the_native_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = small_config()
    native = generate(config, tmp_path / "native.zarr", seed=11, shard_size=4, n_workers=1)
    (tmp_path / "small.toml").write_text(dump_toml(config))
    assert main(["generate", "darcy", str(tmp_path / "small.toml"), "--out", str(tmp_path / "torch.zarr"), "--seed",
                 "11", "--shard-size", "4", "--workers", "1", "--device", "cpu", "--no-progress"]) == 0
    ours = open_store(tmp_path / "torch.zarr", require_complete=True)
    assert ours.attrs["config"]["device"] == "cpu" and native.attrs["config"]["device"] is None
    for split in ("train", "test"):
        trust = ours.attrs["trust"][split]
        assert trust["solvers"] == ["torch"] and trust["devices"] == ["cpu"] and trust["residual_max"] <= 1e-10
        np.testing.assert_array_equal(ours.root[split]["theta"][...], native.root[split]["theta"][...])
        np.testing.assert_array_equal(ours.root[split]["permeability"][...], native.root[split]["permeability"][...])
        a, b = ours.root[split]["fields"][...], native.root[split]["fields"][...]
        # float32 storage: the solves agree to ~1e-11, so only float32 rounding remains.
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(b).max())


def test_time_batch_entry_point() -> None:
    row = time_batch(17, 2, device="cpu", scheme="paper", repeats=1)
    assert row["batch"] == 2 and row["residual_max"] <= 1e-10 and 0 < row["iterations_max"] <= 25


@parametrize_with_checks([TorchSolver])
def test_contract(plugin: type, check) -> None:  # type: ignore[no-untyped-def]
    check(plugin)


@pytest.mark.cuda
@pytest.mark.parametrize("scheme", ["conservative", "paper"])
def test_cuda_equals_cpu(scheme: str, rng: np.random.Generator) -> None:
    for n in (33, 65, 130):
        K = kle_like(rng, 3, n)
        cpu, info_cpu = solve(K, scheme=scheme, device="cpu", return_info=True)
        gpu, info_gpu = solve(K, scheme=scheme, device="cuda", return_info=True)
        assert info_gpu.device.startswith("cuda") and info_gpu.residual.max() <= 1e-10
        assert np.all(_relative(gpu, cpu) < 1e-10), (n, _relative(gpu, cpu))
        assert np.all(np.abs(info_gpu.iterations - info_cpu.iterations) <= 1)
