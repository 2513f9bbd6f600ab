"""Pre-tokenizers and whole encodings per pattern (gpt2, cl100k_base, o200k_base): llmprep vs tiktoken,
with gigatoken and quicktok-v1 printed beside them when installed. One thread, same process, same input.

For each pattern and each input (every ../shared/data/*.txt and large/*.txt file, plus worst cases of one
repeated character class): every encoder's ids are checked equal to tiktoken's before anything is timed
(a peer that differs is left out and says so); each timing is the best of --repeats runs after a warm-up.
Columns: llmprep's pre-tokenizer alone (piece ends into numpy), llmprep's full encode into numpy, tiktoken's
encode_to_numpy, the peers; "x" is tiktoken time / that encoder's time.

    python benchmarks/bench_pretokenize.py [--patterns cl100k_base o200k_base] [--repeats 3] [--no-large]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))
# One core per row: numpy's OpenBLAS threads spin after use, and gigatoken's pool is rayon's.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import tiktoken  # noqa: E402
from _common import best_of, peer, require_exact  # noqa: E402
from llmprep import _core  # noqa: E402
from llmprep.bench.exactness import first_difference  # noqa: E402

PATTERNS = ("gpt2", "cl100k_base", "o200k_base")
WORST = [
    ("x", "x"),
    ("7", "7"),
    ("-", "-"),
    ("space", " "),
    ("newline", "\n"),
    ("' x'", " x"),
    ("CJK", "\u4e2d\u6587\u5b57"),
    ("mark", "\u0301"),
]


def inputs(large: bool) -> list[tuple[str, str]]:
    paths = sorted((SHARED / "data").glob("*.txt"))
    if large:
        paths += sorted((SHARED / "data" / "large").glob("*.txt"))
    if not paths:
        raise SystemExit(f"no corpora in {SHARED / 'data'}; set LLMPREP_SHARED")
    return [(p.name, p.read_text(encoding="utf-8")) for p in paths]


def run_pattern(name: str, texts: list[tuple[str, str]], repeats: int) -> None:
    reference = tiktoken.get_encoding(name)
    ours = _core.BpeEncoder(reference._mergeable_ranks, reference._special_tokens, pattern=name)
    adapters = {"gigatoken": peer("gigatoken", name), "quicktok": peer("quicktok", name)}
    peers = {
        "gigatoken": adapters["gigatoken"].tok if adapters["gigatoken"] else None,
        "quicktok": adapters["quicktok"].enc if adapters["quicktok"] else None,
    }
    print(f"\n== {name} (1 thread; MB/s, and x = tiktoken time / time) ==")
    print(f"  {'input':<28} {'MB':>7} | {'pretok':>7} | {'llmprep':>7} {'x':>6} | {'tiktoken':>8} | peers")
    for label, text in texts:
        size = len(text.encode("utf-8")) / 1e6
        try:
            expected = reference.encode_to_numpy(text)
        except BaseException as error:
            print(f"  {label:<28} {size:7.2f} | tiktoken failed ({type(error).__name__}: {error}); skipped")
            continue
        require_exact(f"{name} {label}: llmprep", ours.encode_to_numpy(text, [], 1), expected)
        t_pre = best_of(lambda: _core.pretokenize_ends(text, name), repeats)
        t_ours = best_of(lambda: ours.encode_to_numpy(text, [], 1), repeats)
        t_ref = best_of(lambda: reference.encode_to_numpy(text), repeats)
        line = (
            f"  {label:<28} {size:7.2f} | {size / t_pre:7.0f} | {size / t_ours:7.1f} {t_ref / t_ours:5.1f}x"
            f" | {size / t_ref:8.1f} |"
        )
        for peer_name, encoder in peers.items():
            if encoder is None:
                continue
            try:
                offset = first_difference(encoder.encode(text), expected)
            except Exception as error:
                line += f" {peer_name} failed ({type(error).__name__})"
                continue
            if offset is not None:
                line += f" {peer_name} not exact at token offset {offset}, left out"
                continue
            t_peer = best_of(lambda: encoder.encode(text), repeats)
            line += f" {peer_name} {size / t_peer:.1f} ({t_ref / t_peer:.1f}x)"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patterns", nargs="+", choices=PATTERNS, default=list(PATTERNS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worst-bytes", type=int, default=1_000_000)
    parser.add_argument("--no-large", action="store_true", help="leave out ../shared/data/large")
    args = parser.parse_args()
    texts = inputs(not args.no_large)
    for label, unit in WORST:
        texts.append((f"worst: {label}", unit * (args.worst_bytes // len(unit.encode("utf-8")))))
    print(f"tiktoken {tiktoken.__version__}; cores: {os.cpu_count()}; best of {args.repeats}")
    for name in args.patterns:
        run_pattern(name, texts, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
