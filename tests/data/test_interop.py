"""Stores other tools read: xarray opens each split as a labelled dataset, Zarr walks the whole hierarchy without a
warning (pytest turns warnings into errors), and the store records the plugin that drew theta."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr  # a test dependency (vaetk[test]); vaetk itself never imports it
import zarr

from vaetk.data import generate


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("interop") / "s.zarr"
    generate({"n": 9, "distribution": {"name": "gaussian_mixture", "preset": "paper_4mode"},
              "split": {"train": 20, "test": 8}}, path, seed=0, n_workers=1)
    return path


@pytest.mark.parametrize("split", ["train", "test"])
def test_xarray_opens_each_split_with_named_dimensions_and_coordinates(store, split):
    ds = xr.open_zarr(store, group=split)
    assert ds["fields"].dims == ("sample", "channel", "y", "x")
    assert ds["theta"].dims == ("sample", "factor") and ds["permeability"].dims == ("sample", "y", "x")
    np.testing.assert_array_equal(ds["x"].values, np.linspace(0, 1, 9))
    assert ds["fields"].attrs["channel_names"] == ["p", "u_x", "u_y"]
    assert ds["theta"].attrs["factor_names"] == ["theta_1", "theta_2"]
    assert "nondimensional" in ds["fields"].attrs["units"]
    root = zarr.open_group(store, mode="r")
    np.testing.assert_array_equal(ds["theta"].values, root[split]["theta"][...])


def test_the_whole_hierarchy_reads_without_warnings(store):
    tree = xr.open_datatree(store, engine="zarr")
    assert {"train", "test"} <= set(tree.children)
    text = str(zarr.open_group(store, mode="r").tree())  # every implicit group has its zarr.json
    assert "shards" in text and "lock" not in text


def test_the_store_records_the_resolved_distribution_plugin(store):
    attrs = json.loads((store / "zarr.json").read_text())["attributes"]
    record = attrs["plugins"]["distribution"]
    assert record["name"] == "gaussian_mixture" and record["distribution"] == "vaetk"
    assert record["config"]["preset"] == "paper_4mode" and "weights" in record["config"]  # defaults included
    assert record["version"]


def test_pdebench_export_holds_every_split_compressed_with_coordinates(store, tmp_path):
    import h5py

    from vaetk.cli.__main__ import main
    from vaetk.data import DarcyDataset, export_pdebench

    files = export_pdebench(store, tmp_path / "out" / "darcy")
    assert [f.name for f in files] == ["darcy_train.hdf5", "darcy_test.hdf5"]
    root = zarr.open_group(store, mode="r")
    for split, path in zip(("train", "test"), files, strict=True):
        with h5py.File(path, "r") as h5:
            assert h5["tensor"].shape == (root[split]["theta"].shape[0], 3, 9, 9)
            assert h5["nu"].shape == (root[split]["theta"].shape[0], 9, 9) and h5["nu"].compression == "gzip"
            np.testing.assert_array_equal(h5["x-coordinate"][...], np.linspace(0, 1, 9))
            np.testing.assert_array_equal(h5["nu"][...], root[split]["permeability"][...])
        back = DarcyDataset(path, split)  # vaetk reads its own export back
        np.testing.assert_array_equal(back.fields.numpy(), root[split]["fields"][...])
        np.testing.assert_array_equal(back.theta.numpy(), root[split]["theta"][...])
    assert main(["export", "pdebench", str(store), str(tmp_path / "out" / "darcy")]) == 1  # no silent overwrite
    assert main(["export", "pdebench", str(store), str(tmp_path / "out" / "darcy"), "--overwrite"]) == 0


def _authors_file(path, n_samples, channels, seed):
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:  # the authors' files name no split
        h5["output"] = rng.standard_normal((n_samples, channels, 8, 8)).astype(np.float32)
        h5["generative_params"] = rng.standard_normal((n_samples, 2))
    return path


def test_training_takes_a_separate_test_file_and_other_channel_counts(tmp_path):
    from vaetk.training import load_experiment
    from vaetk.training._run import load_data

    train = _authors_file(tmp_path / "train.h5", 12, 1, 0)
    test = _authors_file(tmp_path / "test.h5", 6, 1, 1)
    exp = tmp_path / "exp.toml"
    exp.write_text('[data]\npath = "train.h5"\ntest_path = "test.h5"\n[model]\nlatent_dim = 2\n'
                   '[model.architecture]\nname = "small"\n[model.prior]\nname = "standard_normal"\n')
    x, theta, test_x, test_theta = load_data(load_experiment(exp))
    assert x.shape == (12, 1, 8, 8) and test_x is not None and test_x.shape == (6, 1, 8, 8)
    assert not np.array_equal(x[:6].numpy(), test_x.numpy())
    assert train.exists() and test.exists()


def test_training_without_a_test_split_says_so(tmp_path):
    from vaetk.training import NoTestSplitWarning, load_experiment
    from vaetk.training._run import load_data

    _authors_file(tmp_path / "train.h5", 12, 3, 0)
    exp = tmp_path / "exp.toml"
    exp.write_text('[data]\npath = "train.h5"\n[model]\nlatent_dim = 2\n'
                   '[model.architecture]\nname = "small"\n[model.prior]\nname = "standard_normal"\n')
    with pytest.warns(NoTestSplitWarning, match="holds no 'test' split.*data.test_path"):
        _, _, test_x, _ = load_data(load_experiment(exp))
    assert test_x is None
