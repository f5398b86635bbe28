"""Optional TensorBoard logging through the trainer's epoch-callback hook (``pip install vaetk[tensorboard]``).

Off by default: ``vaetk train ... --tensorboard`` (events in ``RUN_DIR/tensorboard``) or, from Python,
``train_experiment(..., callbacks=[TensorBoardLogger("logs")])``. Every number of an epoch's row (losses in both
units, beta, learning rate, test metrics when evaluated, seconds) becomes a scalar named like its history column,
at step = epoch.
"""

from __future__ import annotations

import math
import os
from typing import Any

from vaetk.errors import BuildFeatureError

__all__ = ["TensorBoardLogger"]


class TensorBoardLogger:
    """An epoch callback that writes each row of the history as TensorBoard scalars.

    Parameters
    ----------
    log_dir : path-like
        Folder of the event files (created).
    """

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise BuildFeatureError("TensorBoard logging needs the tensorboard package: pip install "
                                    "'vaetk[tensorboard]' (or pip install tensorboard).") from None
        self.log_dir = str(log_dir)
        self._make_writer = SummaryWriter
        self._writer: Any = None  # opened at the first epoch: the run directory's checks see nothing of ours

    def __call__(self, trainer: Any, row: dict[str, float]) -> None:
        if self._writer is None:
            self._writer = self._make_writer(log_dir=self.log_dir)
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)) and math.isfinite(value):
                self._writer.add_scalar(key, value, step)
        self._writer.flush()  # a run killed later still has every finished epoch on disk

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
