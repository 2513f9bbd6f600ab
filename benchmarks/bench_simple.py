"""SimpleTokenizer vs the chapter's pure-Python SimpleTokenizerV2, same process, same input.

    python benchmarks/bench_simple.py [--repeat 5]

Input: all ../shared/data files concatenated. Checks that the ids and vocabularies are equal
before timing; prints the best of --repeat runs, MB/s and the ratio (reference time / ours).
"""

from __future__ import annotations

import argparse
import os

import llmprep
from _common import best_of, concatenated_corpus, require_exact, row
from llmprep._chapter import SimpleTokenizerV2, build_vocab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    text = concatenated_corpus()
    megabytes = len(text.encode("utf-8")) / 1e6
    # Documents for the batch calls: the corpus cut at line ends into ~64 KB pieces.
    docs, start = [], 0
    while start < len(text):
        end = text.find("\n", start + 65536)
        end = len(text) if end < 0 else end + 1
        docs.append(text[start:end])
        start = end

    ref_vocab = build_vocab(text, ("<|endoftext|>", "<|unk|>"))
    ref = SimpleTokenizerV2(ref_vocab)
    ours = llmprep.SimpleTokenizer.from_text(text)
    if dict(ours.vocab) != ref_vocab:
        raise SystemExit("SimpleTokenizer.from_text: the vocabulary differs from the chapter's; nothing timed")
    expected = ref.encode(text)
    require_exact("SimpleTokenizer.encode", ours.encode(text), expected)
    require_exact("SimpleTokenizer.encode_to_numpy", ours.encode_to_numpy(text), expected)
    require_exact("SimpleTokenizer.encode_batch", ours.encode_batch(docs, num_threads=2), expected)

    print(
        f"corpus: {megabytes:.2f} MB, {len(expected):,} tokens, {len(ref_vocab):,} vocabulary entries, "
        f"{len(docs)} documents for batch calls; best of {args.repeat}; cores: {os.cpu_count()}"
    )
    print(f"  {'':<44} {'time':>12} {'throughput':>14} {'vs ref':>9}")

    t_vocab_ref = best_of(lambda: build_vocab(text, ("<|endoftext|>", "<|unk|>")), args.repeat)
    t_vocab = best_of(lambda: llmprep.SimpleTokenizer.from_text(text), args.repeat)
    print("vocabulary building")
    print(row("chapter: sorted(set(re.split(...)))", t_vocab_ref, megabytes))
    print(row("llmprep SimpleTokenizer.from_text", t_vocab, megabytes, t_vocab_ref))

    t_ref = best_of(lambda: ref.encode(text), args.repeat)
    t_list = best_of(lambda: ours.encode(text), args.repeat)
    t_numpy = best_of(lambda: ours.encode_to_numpy(text), args.repeat)
    t_batch1 = best_of(lambda: ours.encode_batch(docs, num_threads=1), args.repeat)
    t_batch2 = best_of(lambda: ours.encode_batch(docs, num_threads=2), args.repeat)
    print("encode (1 thread unless said)")
    print(row("chapter SimpleTokenizerV2.encode", t_ref, megabytes))
    print(row("llmprep encode -> list", t_list, megabytes, t_ref))
    print(row("llmprep encode_to_numpy", t_numpy, megabytes, t_ref))
    print(row("llmprep encode_batch, 1 thread", t_batch1, megabytes, t_ref))
    print(row("llmprep encode_batch, 2 threads", t_batch2, megabytes, t_ref))
    print(f"encode_batch scaling, 2 threads / 1 thread: {t_batch1 / t_batch2:.2f}x")


if __name__ == "__main__":
    main()
