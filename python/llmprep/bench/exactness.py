"""Exactness checks for ``llmprep bench``: a tool is timed only after its ids equal the reference's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_ids", "first_difference"]


def as_ids(result: Any) -> np.ndarray:
    """Any tool's output (a list of ids, a list of lists, a numpy array, a flat awkward array) as one int64 array."""
    if isinstance(result, np.ndarray):
        return result.astype(np.int64, copy=False).ravel()
    if isinstance(result, Sequence) and result and not isinstance(result[0], (int, np.integer)):
        parts = [as_ids(part) for part in result]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    return np.asarray(result, dtype=np.int64).ravel()


def first_difference(got: Any, expected: Any) -> int | None:
    """The first token offset where ``got`` and ``expected`` differ (a length difference counts), or None.

    Example:
        >>> first_difference([1, 2, 3], [1, 2, 3]) is None
        True
        >>> first_difference([1, 5, 3], [1, 2, 3])
        1
        >>> first_difference([1, 2], [1, 2, 3])
        2
    """
    a, b = as_ids(got), as_ids(expected)
    n = min(len(a), len(b))
    mismatch = np.flatnonzero(a[:n] != b[:n])
    if len(mismatch):
        return int(mismatch[0])
    return None if len(a) == len(b) else n
