"""The small checks every part of vaetk shares: integers that are not booleans, and "did you mean" hints.

Messages stay with their callers (each names its own parameter and owner); this module only answers the two
questions those messages are built on, so that every caller answers them the same way.

Examples
--------
>>> is_int(3, minimum=1), is_int(True), is_int(2.0), is_int(0, minimum=1)
(True, False, False, False)
>>> did_you_mean("natve", ["native", "direct", "amg"])
" Did you mean 'native'?"
>>> did_you_mean("xyz", ["native"])
''
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "is_int"]


def is_int(value: Any, minimum: int | None = None, *, allow_numpy: bool = False) -> bool:
    """Whether ``value`` is an integer (never a bool) and, when ``minimum`` is given, at least ``minimum``.

    Parameters
    ----------
    value : object
        What to check.
    minimum : int, optional
        Smallest accepted value.
    allow_numpy : bool
        Accept any :class:`numbers.Integral` (NumPy integers included), not only Python ints.

    Returns
    -------
    bool
    """
    kind = numbers.Integral if allow_numpy else int
    if isinstance(value, bool) or not isinstance(value, kind):
        return False
    return minimum is None or value >= minimum


def did_you_mean(word: Any, options: Iterable[str], *, n: int = 1, cutoff: float = 0.6,
                 lead: str = "Did you mean") -> str:
    """A hint naming the options closest to ``word``, ready to append to a sentence ("" when none is close).

    Parameters
    ----------
    word : object
        What was given (compared as ``str(word)``).
    options : iterable of str
        What would have been accepted.
    n : int
        Most options named.
    cutoff : float
        Similarity threshold in [0, 1] (:func:`difflib.get_close_matches`).
    lead : str
        The words before the options (``"did you mean"`` inside a sentence).

    Returns
    -------
    str
        ``" Did you mean 'a'?"``, ``" Did you mean 'a' or 'b'?"`` or ``""``.
    """
    close = difflib.get_close_matches(str(word), list(options), n=n, cutoff=cutoff)
    return f" {lead} {' or '.join(repr(c) for c in close)}?" if close else ""
