"""Shared benchmark helpers: corpus loading, and the timing, exactness and peer adapters of
`llmprep bench` (`llmprep.bench`), so that these developer scripts and the command measure the same way.
Ratios are what matter here: machines are shared and noisy, so every benchmark runs the reference and
ours in one process."""

from __future__ import annotations

import os
from pathlib import Path

from llmprep.bench.exactness import first_difference
from llmprep.bench.timing import best_of, interleaved, summarize  # noqa: F401  (re-exported for the benchmarks)

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


def require_exact(label: str, got, expected) -> None:
    """Stops the benchmark, naming the first differing token offset, unless ``got`` equals ``expected``
    (lists, lists of lists and arrays compare by their ids)."""
    offset = first_difference(got, expected)
    if offset is not None:
        raise SystemExit(f"{label}: not exact at token offset {offset}; nothing timed")


def peer(name: str, encoding: str):
    """A peer tokenizer's adapter from `llmprep.bench.peers` (gigatoken, quicktok, HF tokenizers), or None
    with a printed reason when it is not installed or has no such encoding."""
    from llmprep.bench import peers

    try:
        return peers.PEERS[name](encoding)
    except peers.Unavailable as e:
        print(f"({name}: {e.status}: {e.detail})")
        return None


def row(label: str, seconds: float, megabytes: float, baseline: float | None = None) -> str:
    ratio = f"{baseline / seconds:8.1f}x" if baseline is not None else " " * 9
    return f"  {label:<44} {seconds * 1e3:9.2f} ms {megabytes / seconds:9.1f} MB/s {ratio}"
