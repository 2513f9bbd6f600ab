"""Timing for ``llmprep bench``, ``llmprep demo`` and ``benchmarks/``: one implementation.

Every figure comes from the same rules: untimed warm-up calls first; then rounds in which each tool
runs once, in an order that rotates from round to round (so a machine that slows down or speeds up
during the run does not favour whoever runs first); each call's result is released after the clock
stops (freeing a list of a million ints is ~1 ms that every implementation's caller pays alike); all
tools receive the same input objects. Raw times are kept: the median and the spread are derived.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Summary", "best_of", "interleaved", "summarize", "time_call"]


def time_call(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call of ``fn``; its result is released after the clock stops."""
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def interleaved(
    fns: Mapping[str, Callable[[], Any]],
    repeats: int,
    warmup: int = 1,
    on_round: Callable[[], None] | None = None,
) -> dict[str, list[float]]:
    """Raw wall times of every function in ``fns``: ``repeats`` rounds, each calling every function once.

    Args:
        fns: label -> zero-argument callable; each is called ``warmup + repeats`` times.
        repeats: timed rounds (>= 1).
        warmup: untimed calls of each function before the first round.
        on_round: called after each timed round (a progress bar's tick).

    Returns:
        label -> the ``repeats`` wall times in seconds, in round order.

    Raises:
        ValueError: ``repeats`` < 1 or ``warmup`` < 0.

    Example:
        >>> times = interleaved({"a": lambda: sum(range(100)), "b": lambda: sorted(range(100))}, repeats=3)
        >>> sorted(times), [len(t) for t in times.values()]
        (['a', 'b'], [3, 3])
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, not {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, not {warmup}")
    labels = list(fns)
    for label in labels:
        for _ in range(warmup):
            time_call(fns[label])
    times: dict[str, list[float]] = {label: [] for label in labels}
    for r in range(repeats):
        # Rotate the order each round: no tool always runs first (cold caches) or last.
        shift = r % len(labels) if labels else 0
        for label in labels[shift:] + labels[:shift]:
            times[label].append(time_call(fns[label]))
        if on_round is not None:
            on_round()
    return times


@dataclass(frozen=True)
class Summary:
    """The median and spread of raw times (seconds)."""

    median: float
    min: float
    max: float

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repeats were, as a fraction of the median."""
        return (self.max - self.min) / self.median if self.median > 0 else 0.0


def summarize(times: list[float]) -> Summary:
    """Median, minimum and maximum of ``times`` (non-empty).

    Example:
        >>> summarize([3.0, 1.0, 2.0])
        Summary(median=2.0, min=1.0, max=3.0)
    """
    if not times:
        raise ValueError("no times to summarize")
    return Summary(statistics.median(times), min(times), max(times))


def best_of(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """The best wall time of ``repeat`` calls of ``fn``, after ``warmup`` untimed calls.

    Best-of rather than mean, for one tool timed alone on a shared machine, where other jobs only
    ever add time (``interleaved`` is for comparing tools).

    Example:
        >>> best_of(lambda: sum(range(100)), repeat=3) >= 0
        True
    """
    return min(interleaved({"fn": fn}, repeat, warmup)["fn"])
