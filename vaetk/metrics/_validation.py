"""Shared checks for sample arrays (finite, 2-D, enough rows), with messages that say what and where."""

from __future__ import annotations

import numpy as np

from vaetk.errors import DataError

__all__ = ["as_samples"]


def as_samples(x: object, name: str, *, min_rows: int = 1) -> np.ndarray:
    """Return ``x`` as a C-contiguous float64 array of shape (n, d), or raise DataError saying why not.

    Parameters
    ----------
    x : array_like
        Samples, one per row.
    name : str
        How the caller calls this argument (used in messages).
    min_rows : int
        Fewest rows accepted.
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: could not be converted to an array ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name}: expected real numbers, got dtype {arr.dtype}.")
    if arr.ndim != 2:
        hint = f" (for one-dimensional samples pass {name}[:, None])" if arr.ndim == 1 else ""
        raise DataError(f"{name}: expected a 2-D array (n_samples, n_dims), got shape {arr.shape}{hint}.")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name}: empty array of shape {arr.shape}; need at least one sample and one dimension.")
    if arr.shape[0] < min_rows:
        raise DataError(f"{name}: {arr.shape[0]} samples, but at least {min_rows} are needed here.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if rows.size > 5 else "")
        raise DataError(f"{name}: {rows.size} row(s) contain NaN or infinite values (rows {shown}).")
    return arr
