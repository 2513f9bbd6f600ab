"""Worst cases of the BPE encoders: 1 MB in one pre-token piece, llmprep vs tiktoken, one thread.

    python benchmarks/bench_worst.py [--encodings gpt2 cl100k_base o200k_base] [--bytes 1000000] [--repeats 3]

Issue #12's target: no such input costs more than 5x normal text per byte ("x normal" below; normal
text = every ../shared/data/*.txt concatenated, encoded the same way, piece cache warm as in any
repeated timing). Runs of one unit repeat whole chunks, which the long-piece merge reuses; random
letters, digits or marks do not, and are the true worst cases. Every output is checked equal to
tiktoken's before anything is timed.

gigatoken, when installed, is timed too, but not on the text it has already seen: it caches whole
pieces, so a second call on the same 1 MB piece is a lookup (0.3-1.2 ns/B), which no corpus offers.
It gets one call on each of --repeats fresh variants of the case (other seeds for random text, a
longer run for a repeated unit), best kept, each output checked equal to llmprep's on that variant
(llmprep's own are checked against tiktoken on the first text). llmprep caches no piece over 64
bytes, so its repeated timing on one text is a first-encounter cost too.
"""

from __future__ import annotations

import argparse
import os
import random
import string
import sys

import llmprep
import tiktoken
from _common import best_of, concatenated_corpus, peer, require_exact

os.environ.setdefault("RUST_BACKTRACE", "0")  # tiktoken panics on one case (see reference()); keep it to one line

UNITS = [("x repeated", "x"), ("7 repeated", "7"), ("- repeated", "-"), ("spaces", " "), ("newlines", "\n"),
         ("'ab' repeated", "ab"), ("é repeated", "é"), ("中 repeated", "中")]  # fmt: skip
RANDOM = [("random a-z", string.ascii_lowercase), ("random a-zA-Z", string.ascii_letters),
          ("random digits", string.digits), ("random marks", "-=_.,;:!?*#/+")]  # fmt: skip


def reference(ref: tiktoken.Encoding, text: str) -> tuple[tuple[str, list[int]], float | None]:
    """tiktoken's ids for text and its ns/byte; where tiktoken fails (its regex engine overflows its
    stack on a 1 MB run of spaces in o200k_base), the ids of the longest prefix it encodes
    (halving), and None."""
    try:
        ids = ref.encode_ordinary(text)
    except BaseException:  # pyo3's PanicException derives from BaseException
        prefix = text[: len(text) // 2]
        while True:
            try:
                return (prefix, ref.encode_ordinary(prefix)), None
            except BaseException:
                prefix = prefix[: len(prefix) // 2]
    seconds = best_of(lambda: ref.encode_ordinary(text), 1)
    return (text, ids), seconds * 1e9 / len(text.encode("utf-8"))


def make_case(unit_or_alphabet: str, random_text: bool, n_bytes: int, variant: int) -> str:
    """Variant 0 is the case every tool is checked on; variants 1.. are fresh texts of the same kind."""
    if random_text:
        rng = random.Random(f"{unit_or_alphabet} {variant}")
        return "".join(rng.choice(unit_or_alphabet) for _ in range(n_bytes))
    return unit_or_alphabet * (max(1, n_bytes // len(unit_or_alphabet.encode("utf-8"))) + variant)


def fresh_calls_ns(tool, ours: llmprep.Encoding, case: tuple[str, bool], n_bytes: int, repeats: int) -> float:
    """A tool's best ns/B over one call each on `repeats` texts it has not seen, each checked equal to llmprep's."""
    best = float("inf")
    for variant in range(1, repeats + 1):
        text = make_case(*case, n_bytes, variant)
        expected = ours.encode_to_numpy(text, num_threads=1)
        seconds = best_of(lambda t=text: tool(t), 1, warmup=0)  # one call: a second one hits the tool's cache
        require_exact(f"fresh variant {variant}", tool(text), expected)
        best = min(best, seconds * 1e9 / len(text.encode("utf-8")))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encodings", nargs="+", default=["gpt2", "cl100k_base", "o200k_base"])
    parser.add_argument("--bytes", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    normal = concatenated_corpus()
    cases = [(label, (unit, False)) for label, unit in UNITS] + [(label, (abc, True)) for label, abc in RANDOM]
    for name in args.encodings:
        ours, ref = llmprep.get_encoding(name), tiktoken.get_encoding(name)
        giga = peer("gigatoken", name)
        require_exact(f"{name} normal text", ours.encode_to_numpy(normal, num_threads=1), ref.encode_ordinary(normal))
        normal_ns = best_of(lambda: ours.encode_to_numpy(normal, num_threads=1), args.repeats) * 1e9
        normal_ns /= len(normal.encode("utf-8"))
        print(f"{name}: normal text {normal_ns:.2f} ns/B")
        for label, case in cases:
            text = make_case(*case, args.bytes, 0)
            n_bytes = len(text.encode("utf-8"))
            checked, ref_ns = reference(ref, text)
            require_exact(f"{name} {label}", ours.encode_to_numpy(text[: len(checked[0])], num_threads=1), checked[1])
            ours_ns = best_of(lambda t=text: ours.encode_to_numpy(t, num_threads=1), args.repeats) * 1e9 / n_bytes
            verdict = "" if ours_ns <= 5 * normal_ns else "  > 5x"
            theirs = (
                f"tiktoken {ref_ns:7.1f} ns/B   {ref_ns / ours_ns:6.1f}x faster"
                if ref_ns is not None
                else f"tiktoken fails (checked on its first {len(checked[0]):,} characters)"
            )
            if giga is not None:
                giga_ns = fresh_calls_ns(giga.tok.encode, ours, case, args.bytes, args.repeats)
                theirs += f"   gigatoken (fresh text) {giga_ns:7.1f} ns/B {giga_ns / ours_ns:5.1f}x faster"
            print(f"  {label:<16} llmprep {ours_ns:7.1f} ns/B ({ours_ns / normal_ns:5.1f}x normal)   {theirs}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
