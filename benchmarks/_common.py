"""Shared benchmark helpers: corpus loading and best-of-N timing. Ratios are what matter here:
machines are shared and noisy, so every benchmark runs the reference and ours in one process."""

from __future__ import annotations

import os
from pathlib import Path

from llmprep._timing import best_of  # noqa: F401  (re-exported for the benchmarks)

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
# No network on the development machines: tiktoken (the reference) and llmprep's GPT-2 loader read
# the vocabulary from the shared copy of tiktoken's cache unless the caller chose another.
if (SHARED / "tiktoken-cache").is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))


def corpus_files() -> list[Path]:
    files = sorted(DATA.glob("*.txt"))
    if not files:
        raise SystemExit(f"no corpora found in {DATA}; set LLMPREP_SHARED to the shared folder")
    return files


def concatenated_corpus() -> str:
    """All ../shared/data files concatenated, in sorted order."""
    return "".join(path.read_text(encoding="utf-8") for path in corpus_files())


def row(label: str, seconds: float, megabytes: float, baseline: float | None = None) -> str:
    ratio = f"{baseline / seconds:8.1f}x" if baseline is not None else " " * 9
    return f"  {label:<44} {seconds * 1e3:9.2f} ms {megabytes / seconds:9.1f} MB/s {ratio}"
