"""Export round trip (store -> HDF5 -> torch Dataset equals the store), DarcyDataset, and the CLI commands."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from vaetk.cli.__main__ import main
from vaetk.data import DarcyDataset, describe_store, export_hdf5, generate
from vaetk.errors import DataError


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, small_config) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("exp") / "s.zarr"
    generate(small_config(train=7, test=3), out, seed=4, shard_size=3, n_workers=1)
    return out


@pytest.mark.parametrize("split", ["train", "test"])
def test_round_trip_store_to_hdf5_to_dataset(store: Path, tmp_path: Path, store_arrays, split: str) -> None:
    arrays = store_arrays(store)
    h5_path = export_hdf5(store, tmp_path / f"{split}.h5", split=split)
    with h5py.File(h5_path, "r") as h5:
        assert h5["output"].shape == arrays[f"{split}/fields"].shape and h5["output"].dtype == np.float32
        assert h5["permeability"].shape == (len(arrays[f"{split}/theta"]), 1, 17, 17)
        np.testing.assert_array_equal(h5["output"][...], arrays[f"{split}/fields"])
        np.testing.assert_array_equal(h5["generative_params"][...], arrays[f"{split}/theta"])
        np.testing.assert_array_equal(h5["permeability"][:, 0], arrays[f"{split}/permeability"])
        assert h5.attrs["vaetk_split"] == split and h5.attrs["vaetk_seed"] == "4"
    from_h5 = DarcyDataset(h5_path, split=split, return_theta=True)
    from_store = DarcyDataset(store, split=split, return_theta=True)
    assert len(from_h5) == len(from_store) == len(arrays[f"{split}/theta"])
    for dataset in (from_h5, from_store):
        fields, theta = dataset[2]
        assert fields.dtype == torch.float32 and fields.shape == (3, 17, 17)
        assert torch.equal(fields, torch.from_numpy(arrays[f"{split}/fields"][2]))
        assert torch.equal(theta, torch.from_numpy(arrays[f"{split}/theta"][2]))
    assert torch.equal(from_h5.fields, from_store.fields)
    batch = next(iter(torch.utils.data.DataLoader(DarcyDataset(store, split=split), batch_size=2)))
    assert batch.shape == (2, 3, 17, 17)


def test_dataset_and_export_errors(store: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"has no split 'valid'; it has: train, test"):
        DarcyDataset(store, split="valid")
    h5_path = export_hdf5(store, tmp_path / "t.h5")
    with pytest.raises(DataError, match=r"holds the 'train' split, not 'test'"):
        DarcyDataset(h5_path, split="test")
    with pytest.raises(DataError, match="already exists; pass --overwrite"):
        export_hdf5(store, h5_path)
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(
        DataError, match=r"not a Darcy HDF5 file vaetk reads: expected /output .* it holds /x"
    ):
        DarcyDataset(tmp_path / "other.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(DataError, match="Cannot read .* as HDF5"):
        DarcyDataset(tmp_path / "junk.h5")
    with pytest.raises(DataError, match="No dataset at"):
        DarcyDataset(tmp_path / "missing.h5")


def test_cli_generate_info_export(tmp_path: Path, small_config, capsys: pytest.CaptureFixture[str]) -> None:
    from vaetk.config import dump_toml

    config = tmp_path / "tiny.toml"
    config.write_text(dump_toml(small_config(train=4, test=2)))
    out = tmp_path / "cli.zarr"
    args = [
        "generate",
        "darcy",
        str(config),
        "--out",
        str(out),
        "--seed",
        "9",
        "--shard-size",
        "2",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "status: complete" in printed and "train: 4 samples in 2 shards (2 complete)" in printed

    assert main(["info", str(out)]) == 0
    summary = capsys.readouterr().out
    assert summary.strip() == describe_store(out)
    for part in (
        "seed: 9",
        "scheme verification",
        "observed order",
        "max mass-balance error",
        "KLE eigenvalues",
    ):
        assert part in summary

    assert main(args) == 1
    assert "already holds a dataset store" in capsys.readouterr().err
    assert main([*args[:-1], "--n-samples", "3", "--overwrite", "--no-progress"]) == 0
    assert "train: 3 samples" in capsys.readouterr().out

    assert main(["export", "hdf5", str(out), str(tmp_path / "t.h5"), "--split", "test"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(DarcyDataset(tmp_path / "t.h5", split="test")) == 3

    assert main(["generate", "darcy", "kle2_standard_nomal", "--out", str(tmp_path / "x.zarr")]) == 1
    assert "Did you mean 'kle2_standard_normal'" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.zarr")]) == 1
    assert "No dataset store at" in capsys.readouterr().err


def test_cli_generate_preset_on_a_dask_scheduler(
    tmp_path: Path, store_arrays, capsys: pytest.CaptureFixture[str]
) -> None:
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    with cluster:
        code = main(
            [
                "generate",
                "darcy",
                "kle2_shifted_gaussian",
                "--out",
                str(tmp_path / "d.zarr"),
                "--n-samples",
                "2",
                "--seed",
                "1",
                "--scheduler",
                cluster.scheduler_address,
                "--no-progress",
            ]
        )
    assert code == 0, capsys.readouterr().err
    theta = store_arrays(tmp_path / "d.zarr")["train/theta"]
    assert theta.shape == (2, 2)
    assert "theta ~ gaussian(preset=paper_shifted)" in capsys.readouterr().out


def _cli_generate(config: Path, out: Path, *options: str) -> int:
    return main(["generate", "darcy", str(config), "--out", str(out), "--seed", "3", "--shard-size", "2",
                 "--no-progress", *options])


def test_cli_generate_execution_options(
    tmp_path: Path, small_config, tree_bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    from vaetk.config import dump_toml

    config = tmp_path / "tiny.toml"
    config.write_text(dump_toml(small_config(train=4, test=2)))
    reference = tmp_path / "ref.zarr"
    generate(small_config(train=4, test=2), reference, n_samples=3, seed=3, shard_size=2, n_workers=1)
    capsys.readouterr()
    # the new spellings: a local pool of two processes, one thread per solve; a Dask LocalCluster
    assert _cli_generate(config, tmp_path / "pool.zarr", "--n-samples", "3", "--workers", "2", "--threads", "1") == 0
    assert _cli_generate(config, tmp_path / "dask.zarr", "--n-samples", "3", "--workers", "1", "--scheduler",
                         "local") == 0
    assert "deprecated" not in capsys.readouterr().err
    # the old spelling of --n-samples
    assert _cli_generate(config, tmp_path / "old.zarr", "--n", "3", "--workers", "1") == 0
    err = capsys.readouterr().err
    assert "vaetk generate darcy: warning: --n is deprecated; use --n-samples" in err
    for name in ("pool", "dask", "old"):
        assert tree_bytes(tmp_path / f"{name}.zarr") == tree_bytes(reference), name


def test_cli_generate_old_scheduler_value_dask_means_local(capsys: pytest.CaptureFixture[str]) -> None:
    from vaetk.cli.__main__ import build_parser

    base = ["generate", "darcy", "kle2_standard_normal", "--out", "x.zarr"]
    args = build_parser().parse_args([*base, "--scheduler", "dask"])
    assert args.scheduler == "local"
    assert "--scheduler dask is deprecated; use --scheduler local" in capsys.readouterr().err
    args = build_parser().parse_args([*base, "--scheduler", "tcp://10.0.0.5:8786", "--threads", "2"])
    assert (args.scheduler, args.threads, args.workers) == ("tcp://10.0.0.5:8786", 2, None)
    assert capsys.readouterr().err == ""
