"""Dataset generation: contents against an independent recomputation, determinism across shard sizes, worker
counts, thread counts and executors, single-shard regeneration, trust records, presets."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from vaetk.darcy import kle_basis, solve
from vaetk.data import GenerationConfig, generate, open_store
from vaetk.data._generate import ShardTask, load_config, preset_names, run_shard, sample_theta
from vaetk.distributions import create

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def reference_store(tmp_path_factory: pytest.TempPathFactory, small_config) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("ref") / "ref.zarr"
    generate(small_config(), out, seed=7, shard_size=4, n_workers=1)
    return out


def test_store_contents_match_an_independent_recomputation(reference_store: Path) -> None:
    info = open_store(reference_store, require_complete=True)
    assert info.splits == {"train": 10, "test": 6}
    dist = create("gaussian_mixture", {"preset": "paper_4mode"})
    basis = kle_basis(17, n_modes=2, length_scale=0.1)
    for split, split_id in (("train", 0), ("test", 1)):
        theta = np.array(
            [
                dist.sample(1, np.random.default_rng(np.random.SeedSequence(7, spawn_key=(split_id, i))))[0]
                for i in range(info.splits[split])
            ]
        )
        fields = solve(basis.permeability(theta), scheme="paper", source_quadrature="node")
        group = info.root[split]
        np.testing.assert_array_equal(group["theta"][...], theta)
        np.testing.assert_array_equal(group["fields"][...], fields.astype(np.float32))
        np.testing.assert_array_equal(
            group["permeability"][...], basis.permeability(theta).astype(np.float32)
        )
        assert group["fields"].chunks == (4, 3, 17, 17)  # one chunk along N per shard
    np.testing.assert_array_equal(info.root["kle_modes"][...], basis.modes)
    np.testing.assert_allclose(info.attrs["kle"]["eigenvalues"], basis.eigenvalues, rtol=0)


def test_attributes_record_config_seeds_versions_and_trust(reference_store: Path, small_config) -> None:
    attrs = open_store(reference_store).attrs
    assert attrs["status"] == "complete" and attrs["seed"] == 7 and attrs["shard_size"] == 4
    assert attrs["config"] == GenerationConfig.from_dict(small_config()).to_dict()
    assert attrs["config"]["source_quadrature"] == "node"  # resolved from the scheme
    assert {"python", "vaetk", "numpy", "scipy", "zarr"} <= set(attrs["versions"])
    assert "SeedSequence" in attrs["seed_derivation"]
    ver = attrs["verification"]
    assert (
        ver["grids"] == [17, 33] and 1.8 < ver["order_pressure"] < 2.2 and 1.8 < ver["order_velocity"] < 2.2
    )
    for split in ("train", "test"):
        trust = attrs["trust"][split]
        assert trust["residual_max"] < 1e-10 and trust["zero_mean_max"] < 1e-12
        assert 0 < trust["mass_balance_max"] < 1e-2  # the paper scheme is not conservative: O(h^2)
        assert trust["shards"] == {"train": 3, "test": 2}[split]


@pytest.mark.parametrize("shard_size", [3, 16])
def test_identical_for_any_shard_size(
    reference_store: Path, tmp_path: Path, shard_size: int, small_config, assert_same_arrays
) -> None:
    out = tmp_path / "s.zarr"
    generate(small_config(), out, seed=7, shard_size=shard_size, n_workers=1)
    assert_same_arrays(reference_store, out)


def test_identical_with_two_worker_processes_and_two_threads(
    reference_store: Path, tmp_path: Path, small_config, assert_same_arrays, tree_bytes
) -> None:
    out = tmp_path / "w2.zarr"
    generate(small_config(), out, seed=7, shard_size=4, n_workers=2, n_threads=2)
    assert_same_arrays(reference_store, out)
    # Same shard size: the whole store, chunk files and completion records included, is byte-identical.
    assert tree_bytes(reference_store) == tree_bytes(out)


def test_identical_on_a_dask_local_cluster(
    reference_store: Path, tmp_path: Path, small_config, tree_bytes
) -> None:
    import distributed

    # In-process workers (inproc:// transport): fast to start; the tasks are the same as on a remote cluster.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    with cluster, distributed.Client(cluster) as client:
        generate(small_config(), tmp_path / "dask.zarr", seed=7, shard_size=4, executor=client)
        generate(
            small_config(), tmp_path / "addr.zarr", seed=7, shard_size=4, executor=cluster.scheduler_address
        )
        generate(  # the same, said the new way
            small_config(), tmp_path / "sched.zarr", seed=7, shard_size=4, scheduler=cluster.scheduler_address
        )
    assert tree_bytes(reference_store) == tree_bytes(tmp_path / "dask.zarr")
    assert tree_bytes(reference_store) == tree_bytes(tmp_path / "addr.zarr")
    assert tree_bytes(reference_store) == tree_bytes(tmp_path / "sched.zarr")


def test_any_shard_can_be_regenerated_alone(reference_store: Path, tmp_path: Path, tree_bytes) -> None:
    import shutil

    copy = tmp_path / "copy.zarr"
    shutil.copytree(reference_store, copy)
    info = open_store(copy)
    config = info.attrs["config"]
    task = ShardTask(
        str(copy),
        "train",
        1,
        4,
        8,
        7,
        config,
        np.asarray(info.attrs["kle"]["eigenvalues"]),
        info.root["kle_modes"][...],
        None,
    )
    record = run_shard(task)
    assert record["start"] == 4 and record["stop"] == 8
    assert tree_bytes(reference_store) == tree_bytes(copy)


def test_theta_does_not_depend_on_batching() -> None:
    dist = create("gaussian", {"preset": "paper_shifted"})
    whole = sample_theta(dist, 123, "train", 0, 20)
    parts = np.concatenate([sample_theta(dist, 123, "train", a, b) for a, b in ((0, 3), (3, 11), (11, 20))])
    assert whole.tobytes() == parts.tobytes()
    assert not np.array_equal(sample_theta(dist, 123, "test", 0, 20), whole)  # splits are independent streams
    assert not np.array_equal(sample_theta(dist, 124, "train", 0, 20), whole)


def test_a_fresh_seed_is_drawn_and_recorded_when_none_is_given(
    tmp_path: Path, small_config, assert_same_arrays
) -> None:
    info = generate(small_config(train=2, test=0), tmp_path / "a.zarr", n_workers=1)
    seed = info.attrs["seed"]
    assert isinstance(seed, int) and seed > 2**64  # 128 bits of OS entropy
    again = generate(small_config(train=2, test=0), tmp_path / "b.zarr", seed=seed, n_workers=1)
    assert_same_arrays(info.path, again.path)
    assert "test" not in info.splits  # an empty split is not created


def test_n_samples_overrides_the_split_sizes(tmp_path: Path, small_config, store_arrays) -> None:
    info = generate(
        small_config(), tmp_path / "a.zarr", n_samples={"train": 3, "test": 0}, seed=1, n_workers=1
    )
    assert info.splits == {"train": 3}
    info = generate(small_config(), tmp_path / "b.zarr", n_samples=2, seed=1, n_workers=1)
    assert info.splits == {"train": 2, "test": 2}
    np.testing.assert_array_equal(
        store_arrays(tmp_path / "a.zarr")["train/theta"][:2], store_arrays(tmp_path / "b.zarr")["train/theta"]
    )


def test_conservative_scheme_is_mass_conservative(tmp_path: Path, small_config) -> None:
    info = generate(
        small_config(scheme="conservative", train=3, test=0), tmp_path / "c.zarr", seed=1, n_workers=1
    )
    assert info.attrs["config"]["source_quadrature"] == "cell"
    assert info.attrs["trust"]["train"]["mass_balance_max"] < 1e-10


@pytest.mark.parametrize("name", ["kle2_standard_normal", "kle2_shifted_gaussian", "kle2_gaussian_mixture"])
def test_presets_match_the_papers_datasets(name: str) -> None:
    config = load_config(name)
    assert (config.n, config.n_modes, config.scheme, config.source_quadrature) == (65, 2, "paper", "node")
    assert (config.kle.length_scale, config.kle.variance, config.kle.mean) == (0.1, 1.0, 0.0)
    assert (config.split.train, config.split.test) == (512, 512)
    dist = config.make_distribution()
    expected = {
        "kle2_standard_normal": ("StandardNormal", None),
        "kle2_shifted_gaussian": ("Gaussian", (np.array([1.0, 1.0]), np.diag([0.25, 0.25]))),
        "kle2_gaussian_mixture": ("GaussianMixture", None),
    }[name]
    assert type(dist).__name__ == expected[0]
    if expected[1] is not None:
        np.testing.assert_array_equal(dist.mean, expected[1][0])
        np.testing.assert_array_equal(dist.cov, expected[1][1])
    if name == "kle2_gaussian_mixture":
        assert np.all(np.abs(dist.means) == 1.0) and np.all(dist.covs[:, [0, 1], [0, 1]] == 0.0625)
    assert name in preset_names()


def test_presets_are_package_data_in_the_wheel() -> None:
    # scikit-build-core ships every file under wheel.packages; the presets live in the vaetk package.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "vaetk" in pyproject["tool"]["scikit-build"]["wheel"]["packages"]
    assert sorted(p.stem for p in (ROOT / "vaetk" / "configs" / "datasets").glob("*.toml")) == preset_names()


def test_native_solver_output_is_independent_of_threads_and_shard_size(tmp_path: Path, small_config,
                                                                         assert_same_arrays) -> None:
    # The batched C++ multigrid-CG solver (conservative scheme) parallelises over the samples of a shard.
    config = small_config(scheme="conservative", solver="native", train=7, test=0)
    a = generate(config, tmp_path / "a.zarr", seed=3, shard_size=7, n_threads=1, n_workers=1)
    b = generate(config, tmp_path / "b.zarr", seed=3, shard_size=3, n_threads=2, n_workers=1)
    assert a.attrs["trust"]["train"]["solvers"] == ["native"]
    assert a.attrs["trust"]["train"]["residual_max"] <= a.attrs["trust"]["train"]["tol"] * 1.0001
    assert_same_arrays(a.path, b.path)


def test_plugins_load_after_the_importlib_metadata_backport_is_imported() -> None:
    # dask.distributed imports the importlib_metadata backport, whose entry points stdlib then returns; the
    # registry must still load plugins in Dask worker processes.
    import subprocess
    import sys

    code = ("import importlib_metadata, distributed\n"
            "from vaetk.registry import registry\n"
            "print(registry.distributions.get('gaussian').__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Gaussian"
