"""GPT-2 BPE: llmprep vs tiktoken (and gigatoken, if installed), same process, same input.

    python benchmarks/bench_bpe.py [--repeats 5]

Input: every ../shared/data/*.txt concatenated (worst cases, one long piece: bench_worst.py). Every
encoder's output is checked equal to tiktoken's before anything is timed; each timing is the best of
--repeats runs after a warm-up.
Ratios are baseline time / our time (> 1: we are faster).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))
# numpy's OpenBLAS threads spin after use and steal one of the few cores; gigatoken's pool (rayon)
# is held to one thread so that its row is a one-core figure like the others.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import llmprep  # noqa: E402
import tiktoken  # noqa: E402
from _common import best_of, peer, require_exact  # noqa: E402


def row(label: str, seconds: float, n_bytes: int, n_tokens: int, baseline: float | None = None) -> None:
    ratio = f"{baseline / seconds:7.2f}x" if baseline else "        "
    print(
        f"  {label:<46} {n_bytes / seconds / 1e6:9.1f} MB/s {n_tokens / seconds / 1e6:8.2f} Mtok/s"
        f" {seconds * 1e9 / n_bytes:8.1f} ns/B  {ratio}"
    )


def cpu_seconds(fn, repeats: int) -> float:
    """Process CPU time (all threads) per call: what a parallel path costs in total work, which the
    other jobs on a shared machine do not change the way they change wall time."""
    fn()
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - start) / repeats


def two_thread_calibration(repeats: int) -> float:
    """How much two threads gain on this machine right now, measured on hashlib (which releases the
    GIL): on a shared VM other processes take cores, and any scaling figure must be read against this."""
    data = b"x" * 20_000_000

    def one() -> None:
        hashlib.sha256(data).digest()

    def two() -> None:
        threads = [threading.Thread(target=one) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return 2 * best_of(one, repeats) / best_of(two, repeats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    paths = sorted((SHARED / "data").glob("*.txt"))
    if not paths:
        print(f"no corpora in {SHARED / 'data'}", file=sys.stderr)
        return 1
    text = "".join(p.read_text(encoding="utf-8") for p in paths)
    n_bytes = len(text.encode("utf-8"))
    docs = text.split("\n\n")  # paragraphs, as a batch of documents
    docs = [d + "\n\n" for d in docs[:-1]] + docs[-1:]

    ref = tiktoken.get_encoding("gpt2")
    ours = llmprep.get_encoding("gpt2")
    adapter = peer("gigatoken", "gpt2")
    giga = adapter.tok if adapter is not None else None

    # Equal outputs first.
    expected = ref.encode_ordinary(text)
    n_tokens = len(expected)
    require_exact("llmprep encode_ordinary, 1 thread", ours.encode_ordinary(text, num_threads=1), expected)
    require_exact("llmprep encode_to_numpy, 1 thread", ours.encode_to_numpy(text, num_threads=1), expected)
    require_exact("llmprep encode_to_numpy, 2 threads", ours.encode_to_numpy(text, num_threads=2), expected)
    expected_docs = ref.encode_ordinary_batch(docs, num_threads=2)
    require_exact("llmprep encode_ordinary_batch", ours.encode_ordinary_batch(docs, num_threads=2), expected_docs)
    if giga is not None:
        from llmprep.bench.exactness import first_difference

        try:
            offset = first_difference(giga.encode(text), expected)
        except Exception as e:
            print(f"gigatoken failed: {e}")
            offset = -1
        if offset is not None:
            print(f"gigatoken's output differs from tiktoken's (token offset {offset}): left out")
            giga = None

    print(
        f"input: {len(paths)} corpora, {n_bytes / 1e6:.2f} MB, {n_tokens:,} tokens, {len(docs):,} documents;"
        f" best of {args.repeats}; cores: {os.cpu_count()}"
    )
    print(f"  {'':<46} {'speed':>14} {'tokens':>15} {'per byte':>11}  vs tiktoken")

    print("one thread")
    t_ref = best_of(lambda: ref.encode_ordinary(text), args.repeats)
    row("tiktoken encode_ordinary (list)", t_ref, n_bytes, n_tokens)
    t_list = best_of(lambda: ours.encode_ordinary(text, num_threads=1), args.repeats)
    row("llmprep encode_ordinary (list)", t_list, n_bytes, n_tokens, t_ref)
    t_np1 = best_of(lambda: ours.encode_to_numpy(text, num_threads=1), args.repeats)
    row("llmprep encode_to_numpy (uint32)", t_np1, n_bytes, n_tokens, t_ref)
    if giga is not None:
        t_giga = best_of(lambda: giga.encode(text), args.repeats)
        row(
            f"gigatoken encode (numpy, RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']})",
            t_giga,
            n_bytes,
            n_tokens,
            t_ref,
        )
        print(f"  llmprep numpy vs gigatoken: {t_giga / t_np1:.2f}x")

    print("two threads")
    t_ref_b = best_of(lambda: ref.encode_ordinary_batch(docs, num_threads=2), args.repeats)
    row("tiktoken encode_ordinary_batch (docs)", t_ref_b, n_bytes, n_tokens)
    t_b1 = best_of(lambda: ours.encode_ordinary_batch(docs, num_threads=1), args.repeats)
    row("llmprep encode_ordinary_batch, 1 thread", t_b1, n_bytes, n_tokens, t_ref_b)
    t_b2 = best_of(lambda: ours.encode_ordinary_batch(docs, num_threads=2), args.repeats)
    row("llmprep encode_ordinary_batch, 2 threads", t_b2, n_bytes, n_tokens, t_ref_b)
    t_np2 = best_of(lambda: ours.encode_to_numpy(text, num_threads=2), args.repeats)
    row("llmprep encode_to_numpy, 2 threads", t_np2, n_bytes, n_tokens, t_ref_b)
    print(
        f"  scaling 2 threads / 1 thread: numpy {t_np1 / t_np2:.2f}x, batch {t_b1 / t_b2:.2f}x"
        f"  (this machine now: 2 threads of sha256 give {two_thread_calibration(args.repeats):.2f}x)"
    )
    cpu1 = cpu_seconds(lambda: ours.encode_to_numpy(text, num_threads=1), args.repeats)
    cpu2 = cpu_seconds(lambda: ours.encode_to_numpy(text, num_threads=2), args.repeats)
    cpub1 = cpu_seconds(lambda: ours.encode_ordinary_batch(docs, num_threads=1), args.repeats)
    cpub2 = cpu_seconds(lambda: ours.encode_ordinary_batch(docs, num_threads=2), args.repeats)
    print(
        f"  CPU time 2 threads / 1 thread: numpy {cpu2 / cpu1:.2f}, batch {cpub2 / cpub1:.2f}"
        f" -> on 2 free cores at most numpy {2 * cpu1 / cpu2:.2f}x, batch {2 * cpub1 / cpub2:.2f}x"
        f" (less any serial part, e.g. building the lists under the GIL)"
    )

    return 0


if __name__ == "__main__":
    sys.exit(main())
