"""Training on data streamed from a store (a Dataset read one mini-batch at a time) is the same run as training on
the data in memory, and holds only a few shards at once."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import DataLoader

from vaetk.data import DarcyDataset, generate
from vaetk.training import Trainer, build_model, load_experiment
from vaetk.training._run import train_experiment

from .test_runs import write_experiment


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "s.zarr"
    generate({"n": 9, "split": {"train": 40, "test": 16}}, path, seed=5, n_workers=1, shard_size=8)
    return path


def _fit(config, train, theta=None, test=None, test_theta=None):
    model, _ = build_model(config, (3, 9, 9))
    result = Trainer(config, model, train, theta, test, test_theta).fit()
    return result, model


def test_a_streamed_dataset_trains_exactly_like_tensors_in_memory(tmp_path, store):
    config = load_experiment(write_experiment(tmp_path, store, epochs=3))
    memory = DarcyDataset(store, "train", return_theta=True)
    streamed = DarcyDataset(store, "train", return_theta=True, in_memory=False, cache_shards=2)
    test = DarcyDataset(store, "test", return_theta=True, in_memory=False, cache_shards=1)
    ref = DarcyDataset(store, "test", return_theta=True)
    a, model_a = _fit(config, memory.fields, memory.theta.float(), ref.fields, ref.theta.float())
    b, model_b = _fit(config, streamed, test=DataLoader(test, batch_size=4))
    assert streamed.fields is None and len(streamed._reader._cache) <= 2  # never the whole split in memory
    for row_a, row_b in zip(a.history, b.history, strict=True):  # bit for bit: the same batches, the same sums
        assert {k: v for k, v in row_a.items() if k != "seconds"} == {k: v for k, v in row_b.items() if k != "seconds"}
    for (name, wa), wb in zip(model_a.state_dict().items(), model_b.state_dict().values(), strict=True):
        assert torch.equal(wa, wb), name


def test_data_stream_in_an_experiment_is_the_same_run(tmp_path, store):
    runs = {}
    for stream in (False, True):
        folder = tmp_path / f"stream-{stream}"
        folder.mkdir()
        exp = write_experiment(folder, store, epochs=2, **{"[model]": f"stream = {str(stream).lower()}\n[model]"})
        config = load_experiment(exp)
        assert config.data.stream is stream
        train_experiment(config, folder / "run")
        runs[stream] = folder / "run"
    fingerprints = [json.loads((runs[s] / "provenance.json").read_text())["data"]["fingerprint"] for s in runs]
    assert fingerprints[0] == fingerprints[1]  # the same bytes, hashed chunk by chunk
    histories = [json.loads((runs[s] / "history.json").read_text()) for s in runs]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in histories[0]] == \
        [{k: v for k, v in row.items() if k != "seconds"} for row in histories[1]]


def test_dataset_items_must_be_fields_and_theta(tmp_path, store):
    from vaetk.errors import DataError

    config = load_experiment(write_experiment(tmp_path, store, epochs=1))
    with pytest.raises(DataError, match=r"must be \(fields, theta\) pairs"):
        _fit(config, DarcyDataset(store, "train"))  # items are fields only
    with pytest.raises(DataError, match="pass no separate training theta"):
        _fit(config, DarcyDataset(store, "train", return_theta=True), torch.zeros(40, 2))


def test_streamed_constant_predictor_is_one_pass_and_matches_memory():
    from torch.utils.data import TensorDataset

    from vaetk.training import constant_predictor
    from vaetk.training._streaming import DatasetColumn

    gen = torch.Generator().manual_seed(0)
    x = 1e4 + 1e-2 * torch.randn(1300, 2, 5, 5, generator=gen, dtype=torch.float64)  # 3 chunks; a large offset
    reads = []

    class Counting(TensorDataset):
        def __getitem__(self, i):  # type: ignore[no-untyped-def]
            reads.append(i)
            return super().__getitem__(i)

    column = DatasetColumn(Counting(x, torch.zeros(1300, 2)), 0, dtype=torch.float64)
    reads.clear()  # the column read one item for its shape
    streamed = constant_predictor(column)
    memory = constant_predictor(x)
    assert len(reads) == len(x)  # one pass over the store
    torch.testing.assert_close(streamed.mean, memory.mean, rtol=1e-14, atol=0)
    torch.testing.assert_close(streamed.variance, memory.variance, rtol=1e-9, atol=0)
    assert streamed.rec_per_pixel == pytest.approx(memory.rec_per_pixel, rel=1e-12)
