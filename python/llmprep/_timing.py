"""Best-of-N wall-clock timing, shared by ``llmprep demo`` and the scripts in ``benchmarks/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """The best wall time of ``repeat`` calls of ``fn``, after ``warmup`` untimed calls.

    Best-of rather than mean: on a shared machine other jobs only ever add time.
    """
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
