"""Training data that stays on disk: a map-style torch Dataset read one mini-batch at a time.

The :class:`~vaetk.training.Trainer` indexes its data like a tensor (``x[idx]`` for a mini-batch, ``x[:n]``,
``len(x)``, ``x.shape``); :class:`DatasetColumn` gives a Dataset of ``(fields, theta)`` items that interface, so
the training loop, its batch order and its arithmetic are the same for data in memory and data streamed from a
store (``DarcyDataset(..., in_memory=False)``): a streamed run reproduces the in-memory run bit for bit.
Whole-set quantities (the constant predictor, the finiteness check, evaluation) go through it in chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from vaetk.errors import DataError

__all__ = ["DatasetColumn", "chunks", "dataset_columns", "is_streamed"]

CHUNK = 512  # samples per chunk of whole-set passes


class DatasetColumn:
    """Position ``position`` of a Dataset's items, indexed like the (N, ...) tensor it stands for.

    ``column[idx]`` (a LongTensor, list or slice of sample indices) reads those items and returns their stacked
    values on ``device`` as ``dtype``; nothing else is kept in memory.
    """

    def __init__(self, dataset: Dataset, position: int, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.dataset, self.position = dataset, position
        self.device, self.dtype = torch.device(device), dtype
        first = torch.as_tensor(dataset[0][position])
        self.shape = torch.Size((len(dataset), *first.shape))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.shape[0]

    def dim(self) -> int:
        return len(self.shape)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> DatasetColumn:
        return DatasetColumn(self.dataset, self.position, device, dtype or self.dtype)

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, slice):
            rows: list[int] = list(range(*index.indices(len(self))))
        elif isinstance(index, Tensor):
            rows = index.tolist()
        else:
            rows = list(index)
        values = [torch.as_tensor(self.dataset[i][self.position]) for i in rows]
        return torch.stack(values).to(self.device, self.dtype)


def dataset_columns(data: Dataset | DataLoader) -> tuple[DatasetColumn, Tensor | DatasetColumn]:
    """(fields, theta) of a Dataset (or a DataLoader's Dataset) whose items are ``(fields, theta)``.

    theta comes as a tensor when the dataset holds it in memory (``DarcyDataset`` does, streamed or not), else as
    a column. The trainer keeps its own batch order, so a DataLoader's sampler and batch size are not used.
    """
    dataset = data.dataset if isinstance(data, DataLoader) else data
    try:
        n, item = len(dataset), dataset[0]  # type: ignore[arg-type]
    except (TypeError, IndexError, KeyError) as exc:
        raise DataError(f"Training data must be tensors or a map-style Dataset with len() whose items are "
                        f"(fields, theta); {type(dataset).__name__} is not ({exc}).") from None
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        raise DataError(f"The items of {type(dataset).__name__} must be (fields, theta) pairs (e.g. "
                        "DarcyDataset(..., return_theta=True)); got one item of type "
                        f"{type(item).__name__}.")
    theta = getattr(dataset, "theta", None)
    if not (isinstance(theta, Tensor) and len(theta) == n and getattr(dataset, "return_theta", False)):
        theta = DatasetColumn(dataset, 1)
    return DatasetColumn(dataset, 0), theta


def is_streamed(x: Any) -> bool:
    return isinstance(x, DatasetColumn)


def chunks(x: Tensor | DatasetColumn, size: int = CHUNK) -> Iterator[Tensor]:
    """Consecutive pieces of at most ``size`` samples (views for a tensor, reads for a column)."""
    if isinstance(x, Tensor):
        yield from torch.split(x, size)
        return
    for start in range(0, len(x), size):
        yield x[start:start + size]
