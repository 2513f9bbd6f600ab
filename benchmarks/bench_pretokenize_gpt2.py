"""GPT-2 pre-tokenizer throughput: llmprep's C++ scanner vs the `regex` module running the GPT-2 pattern.

Same process, same input (all ../shared/data/*.txt concatenated, plus worst cases), outputs checked equal
before timing, one warm-up, best of --repeat runs, one thread. tiktoken's full encode_ordinary (pre-tokenizer
+ BPE) is printed for scale only: it does not expose its pre-tokenizer alone.

    python benchmarks/bench_pretokenize_gpt2.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import regex
from llmprep import _core

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LLMPREP_SHARED", ROOT.parent / "shared"))
GPT2_PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")


def best_of(repeat: int, function, *args) -> float:
    function(*args)  # warm-up (also caches the str's UTF-8 form)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def report(name: str, text: str, repeat: int, baseline: bool) -> None:
    size = len(text.encode("utf-8"))
    ours = _core.pretokenize(text)
    ends = _core.pretokenize_ends(text)
    if baseline:
        assert ours == GPT2_PATTERN.findall(text), f"{name}: pieces differ from the regex module's"
    assert len(ends) == len(ours)
    t_ours = best_of(repeat, _core.pretokenize_ends, text)
    line = (
        f"{name:<24} {size / 1e6:8.2f} MB {len(ends) / 1e6:7.3f} M pieces | llmprep {size / t_ours / 1e6:8.1f} MB/s "
        f"{len(ends) / t_ours / 1e6:6.1f} M pieces/s"
    )
    if baseline:
        t_regex = best_of(max(1, repeat // 2), GPT2_PATTERN.findall, text)
        line += f" | regex {size / t_regex / 1e6:6.1f} MB/s | ratio {t_regex / t_ours:6.1f}x"
    print(line + " | 1 thread", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    corpus = "".join(p.read_text(encoding="utf-8") for p in sorted((SHARED / "data").glob("*.txt")))
    report("corpora concatenated", corpus, args.repeat, baseline=True)
    try:
        import tiktoken

        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(SHARED / "tiktoken-cache"))
        encoding = tiktoken.get_encoding("gpt2")
        t = best_of(max(1, args.repeat // 2), encoding.encode_ordinary, corpus)
        print(f"{'  (tiktoken encode, full)':<24} {len(corpus.encode()) / t / 1e6:8.1f} MB/s, for scale")
    except Exception as error:  # tiktoken or its cache missing: the comparison above still stands
        print(f"  (tiktoken skipped: {error})")
    n = 1_000_000
    for name, text in [
        ("1 MB of 'x'", "x" * n),
        ("1 MB of '7'", "7" * n),
        ("1 MB of '-'", "-" * n),
        ("1 MB of ' '", " " * n),
        ("1 MB of ' x'", " x" * (n // 2)),
        ("1 MB of '\\n\\n x'", "\n\n x" * (n // 4)),
        ("CJK (3 B/char)", "\u4e2d\u6587\u5b57" * (n // 9)),
        ("Cyrillic words", "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440 " * (n // 20)),
    ]:
        report(name, text, args.repeat, baseline=True)


if __name__ == "__main__":
    main()
