"""Best-of-N wall-clock timing, shared by ``llmprep demo`` and the scripts in ``benchmarks/``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """The best wall time of ``repeat`` calls of ``fn``, after ``warmup`` untimed calls.

    Best-of rather than mean: on a shared machine other jobs only ever add time. The call's result is
    released after the clock stops, so what is timed is the call, not the freeing of what it returned
    (for a list of lists of ints that freeing is a serial ~1 ms per million ids, the same for every
    implementation, which the caller pays whenever it drops the result).
    """
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        del result
    return best
