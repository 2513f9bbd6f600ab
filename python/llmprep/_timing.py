"""Best-of-N wall-clock timing for ``llmprep demo``: the one implementation lives in `llmprep.bench.timing`."""

from __future__ import annotations

from llmprep.bench.timing import best_of

__all__ = ["best_of"]
